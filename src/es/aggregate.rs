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

    /// Records an event recorded at `at` (Unix seconds).
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
    /// Brings the views of `stream` from what `before` showed to what `after` shows.
    fn sync<'a>(
        &'a self,
        conn: &'a mut Conn<'_>,
        stream: &'a StreamId,
        before: StateRef<'a>,
        after: StateRef<'a>,
    ) -> BoxFuture<'a, Result<(), sqlx::Error>>;
}

/// A certificate (Key Vault `CertificateBundle` with its pending operation).
pub struct Certificate;

impl Aggregate for Certificate {
    type State = CertificateState;
    type Event = CertificateEvent;
    type Command = CertificateCommand;
    type Context = ();
    const KIND: StreamKind = StreamKind::Certificate;

    fn apply(state: &mut CertificateState, event: &CertificateEvent, at: i64) {
        state.apply(event, at)
    }

    fn decide(
        state: &CertificateState,
        name: &str,
        command: CertificateCommand,
        _: &(),
    ) -> Result<Vec<CertificateEvent>, DomainError> {
        certificate::decide(state, name, command)
    }

    fn released_keys(before: &CertificateState, events: &[CertificateEvent]) -> Vec<String> {
        certificate::released_keys(before, events)
    }

    fn view(state: &CertificateState) -> StateRef<'_> {
        StateRef::Certificate(state)
    }

    fn wrap(event: CertificateEvent) -> DomainEvent {
        DomainEvent::Certificate(event)
    }
}

/// An issuer object (Key Vault `IssuerBundle`).
pub struct Issuer;

/// The provider names an issuer may name on this server.
pub struct KnownProviders(pub Vec<String>);

impl Aggregate for Issuer {
    type State = IssuerState;
    type Event = IssuerEvent;
    type Command = IssuerCommand;
    type Context = KnownProviders;
    const KIND: StreamKind = StreamKind::Issuer;

    fn apply(state: &mut IssuerState, event: &IssuerEvent, at: i64) {
        state.apply(event, at)
    }

    fn decide(
        state: &IssuerState,
        _name: &str,
        command: IssuerCommand,
        known: &KnownProviders,
    ) -> Result<Vec<IssuerEvent>, DomainError> {
        issuer::decide(state, command, &known.0)
    }

    fn view(state: &IssuerState) -> StateRef<'_> {
        StateRef::Issuer(state)
    }

    fn wrap(event: IssuerEvent) -> DomainEvent {
        DomainEvent::Issuer(event)
    }
}

/// A vault's certificate contacts (Key Vault `Contacts`).
pub struct Contacts;

impl Aggregate for Contacts {
    type State = ContactsState;
    type Event = ContactsEvent;
    type Command = ContactsCommand;
    type Context = ();
    const KIND: StreamKind = StreamKind::Contacts;

    fn apply(state: &mut ContactsState, event: &ContactsEvent, at: i64) {
        state.apply(event, at)
    }

    fn decide(
        state: &ContactsState,
        _name: &str,
        command: ContactsCommand,
        _: &(),
    ) -> Result<Vec<ContactsEvent>, DomainError> {
        contacts::decide(state, command)
    }

    fn view(state: &ContactsState) -> StateRef<'_> {
        StateRef::Contacts(state)
    }

    fn wrap(event: ContactsEvent) -> DomainEvent {
        DomainEvent::Contacts(event)
    }
}

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
