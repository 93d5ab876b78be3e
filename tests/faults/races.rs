//! Races on one name, 64 clients at once: every set of answers must be one a serial order of
//! the same commands would give (the model in `model.rs`), and the views must rebuild
//! identically from the events afterwards.

use reqwest::{Method, Response};
use serde_json::{json, Value};

use crate::figures;
use crate::helpers::{OutsideCa, TestApp};
use crate::model::{serializable, Outcome};

const CLIENTS: usize = 64;

fn rounds() -> u64 {
    figures::env_u64("CERTBROKER_FAULTS_RACE_ROUNDS", 2)
}

async fn outcome(r: Response) -> Outcome {
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    let code = body["error"]["code"].as_str().unwrap_or("").to_owned();
    assert!(
        status < 400 || !code.is_empty(),
        "{status} outside the envelope: {body}"
    );
    (status, code)
}

fn ok(status: u16) -> Outcome {
    (status, String::new())
}

fn err(status: u16, code: &str) -> Outcome {
    (status, code.to_owned())
}

fn manual_body(name: &str) -> Value {
    json!({"policy": {"key_props": {"kty": "EC"}, "x509_props": {"subject": format!("CN={name}.example.com")}, "issuer": {"name": "Unknown"}}})
}

async fn stream_count(app: &TestApp, name: &str, event_type: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE stream_id = $1 AND event_type = $2")
        .bind(format!("certificate/default/{name}"))
        .bind(event_type)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

async fn end_clean(app: &TestApp) {
    app.assert_views_rebuild_identically().await;
    let (code, out) = crate::server::cli(&app.data_dir, &["verify"]);
    assert_eq!(code, 0, "verify:\n{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_concurrent_creates_on_one_name_make_exactly_one_request() {
    let app = TestApp::spawn().await;
    for round in 0..rounds() {
        let name = format!("create{round}");
        let answers = futures_util::future::join_all(
            (0..CLIENTS)
                .map(|_| async { outcome(app.create(&name, manual_body(&name)).await).await }),
        )
        .await;
        let accepted = answers.iter().filter(|o| o.0 == 202).count();
        assert_eq!(accepted, 1, "{answers:?}");
        for a in &answers {
            assert!(a.0 == 202 || *a == err(409, "Forbidden"), "{a:?}");
        }
        assert_eq!(stream_count(&app, &name, "PendingCreated").await, 1);
    }
    end_clean(&app).await;
    figures::record("races-create", &[("races_run", rounds())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_concurrent_merges_complete_the_request_exactly_once() {
    let app = TestApp::spawn().await;
    let ca = OutsideCa::new();
    for round in 0..rounds() {
        let name = format!("merge{round}");
        let op = app.create_manual(&name).await;
        let x5c = ca.sign(op["csr"].as_str().unwrap());
        let answers = futures_util::future::join_all(
            (0..CLIENTS).map(|_| async { outcome(app.merge(&name, x5c.clone()).await).await }),
        )
        .await;
        assert_eq!(
            answers.iter().filter(|o| o.0 == 201).count(),
            1,
            "{answers:?}"
        );
        let observed: Vec<_> = answers.into_iter().map(|o| ("merge", o)).collect();
        assert!(
            serializable(false, &observed, |done: &bool, _c: &&str| if *done {
                (err(409, "Conflict"), true)
            } else {
                (ok(201), true)
            }),
            "{observed:?}"
        );
        assert_eq!(stream_count(&app, &name, "CertificateMerged").await, 1);
        assert_eq!(app.get_certificate(&name).await.status(), 200);
    }
    end_clean(&app).await;
    figures::record("races-merge", &[("races_run", rounds())]);
}

/// A manual pending request as merge, cancel and delete-pending see it.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
enum Pending {
    InProgress { cancellation_requested: bool },
    Completed,
    Gone,
}

#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
enum PendingCommand {
    Merge,
    Cancel,
    DeletePending,
}

fn pending_step(s: &Pending, c: &PendingCommand) -> (Outcome, Pending) {
    use Pending::*;
    use PendingCommand::*;
    let gone = err(404, "PendingCertificateNotFound");
    match (s, c) {
        (InProgress { .. }, Merge) => (ok(201), Completed),
        (Completed, Merge) => (err(409, "Conflict"), Completed),
        (Gone, Merge) => (gone, Gone),
        (InProgress { .. }, Cancel) => (
            ok(200),
            InProgress {
                cancellation_requested: true,
            },
        ),
        (Completed, Cancel) => (err(400, "BadParameter"), Completed),
        (Gone, Cancel) => (gone, Gone),
        (InProgress { .. } | Completed, DeletePending) => (ok(200), Gone),
        (Gone, DeletePending) => (gone, Gone),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_cancel_and_delete_pending_racing_answer_as_one_serial_order() {
    let app = TestApp::spawn().await;
    let ca = OutsideCa::new();
    let mut merged_rounds = 0;
    for round in 0..rounds() {
        let name = format!("mcd{round}");
        let op = app.create_manual(&name).await;
        let x5c = ca.sign(op["csr"].as_str().unwrap());
        // Rotate which command goes first so that each gets to win in some round.
        let commands: Vec<PendingCommand> = (0..CLIENTS)
            .map(|i| match (i + round as usize) % 3 {
                0 => PendingCommand::Merge,
                1 => PendingCommand::Cancel,
                _ => PendingCommand::DeletePending,
            })
            .collect();
        let answers = futures_util::future::join_all(commands.iter().map(|c| async {
            let r = match c {
                PendingCommand::Merge => app.merge(&name, x5c.clone()).await,
                PendingCommand::Cancel => app.cancel(&name, None).await,
                PendingCommand::DeletePending => app.delete_pending(&name, None).await,
            };
            (c.clone(), outcome(r).await)
        }))
        .await;
        assert!(
            serializable(
                Pending::InProgress {
                    cancellation_requested: false
                },
                &answers,
                pending_step
            ),
            "no serial order gives {answers:?}"
        );
        let merged = answers
            .iter()
            .any(|(c, o)| *c == PendingCommand::Merge && o.0 == 201);
        merged_rounds += u64::from(merged);
        assert_eq!(app.get_pending(&name, None).await.status(), 404);
        // The certificate stays readable either way; it has a version only if merged.
        let cert = app.get_certificate(&name).await;
        assert_eq!(cert.status(), 200);
        let cert: serde_json::Value = cert.json().await.unwrap();
        assert_eq!(cert["cer"].is_string(), merged, "{cert}");
        assert_eq!(
            stream_count(&app, &name, "CertificateMerged").await,
            i64::from(merged)
        );
    }
    end_clean(&app).await;
    figures::record(
        "races-merge-cancel-delete",
        &[("races_run", rounds()), ("races_merge_won", merged_rounds)],
    );
}

/// A certificate with a version, as soft delete and create see it.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
enum Named {
    Live { in_progress: bool },
    Deleted,
}

#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
enum NameCommand {
    Create,
    SoftDelete,
}

fn name_step(s: &Named, c: &NameCommand) -> (Outcome, Named) {
    match (s, c) {
        (Named::Live { in_progress: false }, NameCommand::Create) => {
            (ok(202), Named::Live { in_progress: true })
        }
        (Named::Live { in_progress: true }, NameCommand::Create) => {
            (err(409, "Forbidden"), s.clone())
        }
        (Named::Deleted, NameCommand::Create) => (err(409, "Conflict"), Named::Deleted),
        (Named::Live { .. }, NameCommand::SoftDelete) => (ok(200), Named::Deleted),
        (Named::Deleted, NameCommand::SoftDelete) => {
            (err(404, "CertificateNotFound"), Named::Deleted)
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soft_delete_racing_create_answers_as_one_serial_order() {
    let app = TestApp::spawn().await;
    let ca = OutsideCa::new();
    for round in 0..rounds() {
        let name = format!("sdc{round}");
        let op = app.create_manual(&name).await;
        let x5c = ca.sign(op["csr"].as_str().unwrap());
        assert_eq!(app.merge(&name, x5c).await.status(), 201);
        let commands: Vec<NameCommand> = (0..CLIENTS)
            .map(|i| {
                if (i + round as usize) % 2 == 0 {
                    NameCommand::Create
                } else {
                    NameCommand::SoftDelete
                }
            })
            .collect();
        let answers = futures_util::future::join_all(commands.iter().map(|c| async {
            let r = match c {
                NameCommand::Create => app.create(&name, manual_body(&name)).await,
                NameCommand::SoftDelete => {
                    app.send(Method::DELETE, &format!("/certificates/{name}"), None)
                        .await
                }
            };
            (c.clone(), outcome(r).await)
        }))
        .await;
        assert!(
            serializable(Named::Live { in_progress: false }, &answers, name_step),
            "no serial order gives {answers:?}"
        );
        let deleted = app
            .send(Method::GET, &format!("/deletedcertificates/{name}"), None)
            .await;
        assert_eq!(deleted.status(), 200);
        assert_eq!(stream_count(&app, &name, "CertificateDeleted").await, 1);
    }
    end_clean(&app).await;
    figures::record("races-delete-create", &[("races_run", rounds())]);
}
