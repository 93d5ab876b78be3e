//! Property: whatever sequence of commands clients send (accepted, refused or failing),
//! the views rebuilt from the events equal the live views, and the chain verifies.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{OutsideCa, TestApp};

#[derive(Debug, Clone)]
enum Step {
    CreateManual(usize),
    CreateLocal(usize),
    CreateWithApproval(usize),
    Cancel(usize),
    DeletePending(usize),
    MergeSigned(usize),
    MergeGarbage(usize),
    Approve(usize),
    Reject(usize),
    RunWorker,
    Unauthenticated(usize),
    PutIssuer(usize),
    DeleteIssuer(usize),
}

const NAMES: [&str; 3] = ["alpha", "beta", "gamma"];

fn step() -> impl Strategy<Value = Step> {
    let n = 0..NAMES.len();
    prop_oneof![
        n.clone().prop_map(Step::CreateManual),
        n.clone().prop_map(Step::CreateLocal),
        n.clone().prop_map(Step::CreateWithApproval),
        n.clone().prop_map(Step::Cancel),
        n.clone().prop_map(Step::DeletePending),
        n.clone().prop_map(Step::MergeSigned),
        n.clone().prop_map(Step::MergeGarbage),
        n.clone().prop_map(Step::Approve),
        n.clone().prop_map(Step::Reject),
        Just(Step::RunWorker),
        n.clone().prop_map(Step::Unauthenticated),
        n.clone().prop_map(Step::PutIssuer),
        n.prop_map(Step::DeleteIssuer),
    ]
}

async fn run(steps: Vec<Step>, ca: &OutsideCa) {
    let app = TestApp::spawn().await;
    assert_eq!(app.put_issuer("local", "local-ca").await.status(), 200);
    assert_eq!(
        app.put_issuer("approval", "local-ca-approval")
            .await
            .status(),
        200
    );
    let create = |issuer: &str, name: &str| {
        json!({"policy": {"key_props": {"kty": "EC", "crv": "P-256"},
                          "x509_props": {"subject": format!("CN={name}.example.com")},
                          "issuer": {"name": issuer}}})
    };
    for s in &steps {
        let status = match s {
            Step::CreateManual(i) => app.create(NAMES[*i], create("Unknown", NAMES[*i])).await,
            Step::CreateLocal(i) => app.create(NAMES[*i], create("local", NAMES[*i])).await,
            Step::CreateWithApproval(i) => {
                app.create(NAMES[*i], create("approval", NAMES[*i])).await
            }
            Step::Cancel(i) => app.cancel(NAMES[*i], None).await,
            Step::DeletePending(i) => app.delete_pending(NAMES[*i], None).await,
            Step::MergeSigned(i) => {
                let r = app.get_pending(NAMES[*i], None).await;
                let x5c = if r.status() == 200 {
                    let v: Value = r.json().await.unwrap();
                    ca.sign(v["csr"].as_str().unwrap())
                } else {
                    vec!["AAAA".into()]
                };
                app.merge(NAMES[*i], x5c).await
            }
            Step::MergeGarbage(i) => app.merge(NAMES[*i], vec!["bm90IGEgY2VydA==".into()]).await,
            Step::Approve(i) => {
                app.send(
                    Method::POST,
                    &format!("/certificates/{}/pending/approve", NAMES[*i]),
                    None,
                )
                .await
            }
            Step::Reject(i) => {
                app.send(
                    Method::POST,
                    &format!("/certificates/{}/pending/reject", NAMES[*i]),
                    Some(json!({"reason": "no"})),
                )
                .await
            }
            Step::RunWorker => {
                app.run_worker().await;
                continue;
            }
            Step::Unauthenticated(i) => app
                .client
                .post(app.url(&format!("/certificates/{}/create", NAMES[*i])))
                .json(&json!({}))
                .send()
                .await
                .unwrap(),
            Step::PutIssuer(i) => {
                app.put_issuer(&format!("i-{}", NAMES[*i]), "local-ca")
                    .await
            }
            Step::DeleteIssuer(i) => {
                app.send(
                    Method::DELETE,
                    &format!("/certificates/issuers/i-{}", NAMES[*i]),
                    None,
                )
                .await
            }
        }
        .status();
        assert!(status.as_u16() < 500, "{s:?} answered {status}");
    }
    app.assert_views_rebuild_identically().await;
    let mut conn = app.open_database().await;
    let v = certbroker::es::chain::verify(&mut conn, Default::default(), None)
        .await
        .unwrap();
    assert_eq!(v.broken, None);
    let events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(v.rows as i64, events);
}

#[test]
fn any_sequence_of_commands_rebuilds_to_identical_views_and_a_valid_chain() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let ca = OutsideCa::new();
    let mut runner = TestRunner::new(Config {
        cases: 16,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&prop::collection::vec(step(), 1..20), |steps| {
            rt.block_on(run(steps, &ca));
            Ok(())
        })
        .unwrap();
}
