//! The aggregate trait every command goes through (see `execute`), its implementations for
//! the domain's aggregates, and the view hook the projections register.
//!
//! An aggregate is one kind of stream: its events fold into a state (`apply`, which never
//! fails) and its commands are judged against that state (`decide`, which may refuse). Both
//! are the domain's pure functions; this module only names them for the pipeline.

use futures_util::future::BoxFuture;

use super::envelope::{DomainEvent, StreamId, StreamKind};
use super::storage::Conn;
use crate::domain::audit::AuditEvent;
use crate::domain::certificate::{self, CertificateCommand, CertificateEvent, CertificateState};
use crate::domain::contacts::{self, ContactsCommand, ContactsEvent, ContactsState};
use crate::domain::issuer::{self, IssuerCommand, IssuerEvent, IssuerState};
use crate::domain::DomainError;

/// One kind of stream and its rules.
pub trait Aggregate: Send + Sync + 'static {
    type State: Default + Clone + Send + Sync + 'static;
    type Event: Clone + Send + Sync + serde::Serialize + serde::de::DeserializeOwned + 'static;
    type Command: Clone + Send + 'static;
    /// What a decision needs besides the state (static rules, like known providers).
    type Context: Send + Sync + 'static;

    /// The stream kind.
    const KIND: StreamKind;
    /// True when decisions never depend on the state (audit records): the pipeline then
    /// appends at the stream's current version without loading it.
    const STATELESS: bool = false;

    /// Folds an event recorded at `at` (Unix seconds) into the state.
    fn apply(state: &mut Self::State, event: &Self::Event, at: i64);
    /// Judges `command`: the events it causes, or a refusal. `name` is the stream's object
    /// as the caller spelled it (for messages).
    fn decide(
        state: &Self::State,
        name: &str,
        command: Self::Command,
        context: &Self::Context,
    ) -> Result<Vec<Self::Event>, DomainError>;
    /// Sealed keys the events release for good (erased in the same transaction).
    fn released_keys(_before: &Self::State, _events: &[Self::Event]) -> Vec<String> {
        Vec::new()
    }
    /// The state as the views read it.
    fn view(state: &Self::State) -> StateRef<'_>;
    /// The event as every reader of the log decodes it.
    fn wrap(event: Self::Event) -> DomainEvent;
}

/// A state the views render, of whichever aggregate.
#[derive(Debug, Clone, Copy)]
pub enum StateRef<'a> {
    Certificate(&'a CertificateState),
    Issuer(&'a IssuerState),
    Contacts(&'a ContactsState),
    /// Audit streams have no view.
    None,
}

/// The views, written in the command's transaction: the projections register one
/// implementation at start-up, and the rebuild uses the same one.
pub trait Views: Send + Sync + 'static {
    /// Brings the views of the change's stream from what it showed before to what it shows
    /// after.
    fn sync<'a>(&'a self, conn: &'a mut Conn<'_>, change: Change<'a>) -> Synced<'a>;
}

/// One stream's state before and after a command, as the views see it.
pub struct Change<'a> {
    pub stream: &'a StreamId,
    pub before: StateRef<'a>,
    pub after: StateRef<'a>,
}

/// What [`Views::sync`] returns.
pub type Synced<'a> = BoxFuture<'a, Result<(), sqlx::Error>>;

/// The impl of a stateful aggregate, whose kind, state, event and view share one variant
/// name: its state folds its events with the state's own `apply`, `decide` is the body
/// given over the parameters named, and items after a `;` (`released_keys`) join the impl.
/// A macro, not default methods: the variants differ in type.
macro_rules! stateful_aggregate {
    (
        $aggregate:ident: $state:ty, $event:ty, $command:ty, $context:ty,
        |$s:ident, $name:ident, $cmd:ident, $ctx:ident| $decide:expr
        $(; $($more:tt)*)?
    ) => {
        impl Aggregate for $aggregate {
            type State = $state;
            type Event = $event;
            type Command = $command;
            type Context = $context;
            const KIND: StreamKind = StreamKind::$aggregate;

            fn apply(state: &mut $state, event: &$event, at: i64) {
                state.apply(event, at)
            }

            fn decide(
                $s: &$state,
                $name: &str,
                $cmd: $command,
                $ctx: &$context,
            ) -> Result<Vec<$event>, DomainError> {
                $decide
            }

            $($($more)*)?

            fn view(state: &$state) -> StateRef<'_> {
                StateRef::$aggregate(state)
            }

            fn wrap(event: $event) -> DomainEvent {
                DomainEvent::$aggregate(event)
            }
        }
    };
}

/// A certificate (Key Vault `CertificateBundle` with its pending operation).
pub struct Certificate;

stateful_aggregate!(
    Certificate: CertificateState, CertificateEvent, CertificateCommand, (),
    |state, name, command, _context| certificate::decide(state, name, command);
    fn released_keys(before: &CertificateState, events: &[CertificateEvent]) -> Vec<String> {
        certificate::released_keys(before, events)
    }
);

/// An issuer object (Key Vault `IssuerBundle`).
pub struct Issuer;

/// The provider names an issuer may name on this server.
pub struct KnownProviders(pub Vec<String>);

stateful_aggregate!(
    Issuer: IssuerState, IssuerEvent, IssuerCommand, KnownProviders,
    |state, _name, command, known| issuer::decide(state, command, &known.0)
);

/// A vault's certificate contacts (Key Vault `Contacts`).
pub struct Contacts;

stateful_aggregate!(
    Contacts: ContactsState, ContactsEvent, ContactsCommand, (),
    |state, _name, command, _context| contacts::decide(state, command)
);

/// Audit records: facts about access, appended as they are recorded.
pub struct Audit;

impl Aggregate for Audit {
    type State = ();
    type Event = AuditEvent;
    type Command = AuditEvent;
    type Context = ();
    const KIND: StreamKind = StreamKind::Audit;
    const STATELESS: bool = true;

    fn apply(_: &mut (), _: &AuditEvent, _: i64) {}

    fn decide(_: &(), _: &str, record: AuditEvent, _: &()) -> Result<Vec<AuditEvent>, DomainError> {
        Ok(vec![record])
    }

    fn view(_: &()) -> StateRef<'_> {
        StateRef::None
    }

    fn wrap(event: AuditEvent) -> DomainEvent {
        DomainEvent::Audit(event)
    }
}
