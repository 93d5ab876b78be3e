//! Kill -9 under mixed load, repeated on one data directory: concurrent creates (`Unknown`,
//! `Self`, a `local-ca` issuer), merges, cancellations, pending deletes and soft deletes;
//! SIGKILL at a seeded random moment; `rebuild --check` and `verify` on the directory as the
//! crash left it; restart; every acknowledged effect present, every in-flight issuance
//! completed by the restarted worker, and each request that got no answer either done or not
//! done at all.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::figures::{self, Rng};
use crate::helpers::OutsideCa;
use crate::server::{assert_rebuild_and_verify_clean, Server};

const TASKS: u64 = 6;

/// What a name should show after a restart.
#[derive(Clone, Debug, PartialEq)]
enum Effect {
    /// Nothing was ever acknowledged for it.
    Absent,
    /// A manual (`Unknown`) request, in progress; its CSR for a later merge.
    Manual {
        csr: String,
    },
    /// A `Self` certificate (issued in the create itself).
    SelfSigned,
    /// A `local-ca` request: the worker must complete it, after any number of kills.
    Issuing,
    Merged,
    Cancelled,
    PendingDeleted,
    SoftDeleted,
}

#[derive(Debug)]
struct Record {
    acked: Effect,
    /// Sent after the last acknowledgement and never answered: either it happened or not.
    in_doubt: Option<Effect>,
}

#[derive(Default)]
struct Ledger {
    names: Mutex<BTreeMap<String, Record>>,
    acks: AtomicU64,
}

impl Ledger {
    fn ack(&self, name: &str, effect: Effect) {
        self.acks.fetch_add(1, Ordering::SeqCst);
        self.names.lock().unwrap().insert(
            name.to_owned(),
            Record {
                acked: effect,
                in_doubt: None,
            },
        );
    }

    fn doubt(&self, name: &str, attempted: Effect) {
        let mut names = self.names.lock().unwrap();
        names
            .entry(name.to_owned())
            .or_insert(Record {
                acked: Effect::Absent,
                in_doubt: None,
            })
            .in_doubt = Some(attempted);
    }
}

fn policy(name: &str, issuer: &str) -> Value {
    json!({"policy": {"key_props": {"kty": "EC", "crv": "P-256"}, "x509_props": {"subject": format!("CN={name}.example.com")}, "issuer": {"name": issuer}}})
}

/// One client of the mixed load: runs until `stop`, or until a request gets no answer.
async fn client(
    server: Arc<Server>,
    ledger: Arc<Ledger>,
    ca: Arc<OutsideCa>,
    stop: Arc<AtomicBool>,
    round: u64,
    task: u64,
    seed: u64,
) {
    let mut rng = Rng::new(seed ^ (round << 32) ^ task);
    let mut manual: Vec<(String, String)> = Vec::new();
    let mut merged: Vec<String> = Vec::new();
    let mut n = 0;
    while !stop.load(Ordering::SeqCst) {
        let pick = rng.range(0, 10);
        let (name, attempted, method, path, body, want) = match pick {
            0..=5 => {
                n += 1;
                let name = format!("k{round}t{task}n{n}");
                let (issuer, effect) = match pick {
                    0 | 1 => ("Unknown", Effect::Manual { csr: String::new() }),
                    2 | 3 => ("Self", Effect::SelfSigned),
                    _ => ("ca", Effect::Issuing),
                };
                let path = format!("/certificates/{name}/create");
                let body = policy(&name, issuer);
                (name, effect, Method::POST, path, Some(body), 202)
            }
            6 | 7 if !manual.is_empty() => {
                let (name, csr) = manual.swap_remove(rng.range(0, manual.len() as u64) as usize);
                let x5c = ca.sign(&csr);
                let path = format!("/certificates/{name}/pending/merge");
                (
                    name,
                    Effect::Merged,
                    Method::POST,
                    path,
                    Some(json!({"x5c": x5c})),
                    201,
                )
            }
            8 if !manual.is_empty() => {
                let (name, _) = manual.swap_remove(rng.range(0, manual.len() as u64) as usize);
                let (effect, method, body) = if rng.range(0, 2) == 0 {
                    (
                        Effect::Cancelled,
                        Method::PATCH,
                        Some(json!({"cancellation_requested": true})),
                    )
                } else {
                    (Effect::PendingDeleted, Method::DELETE, None)
                };
                let path = format!("/certificates/{name}/pending");
                (name, effect, method, path, body, 200)
            }
            9 if !merged.is_empty() => {
                let name = merged.swap_remove(rng.range(0, merged.len() as u64) as usize);
                let path = format!("/certificates/{name}");
                (name, Effect::SoftDeleted, Method::DELETE, path, None, 200)
            }
            _ => continue,
        };
        match server.try_send(method, &path, body).await {
            Ok(r) => {
                let status = r.status().as_u16();
                let text = r.text().await.unwrap_or_default();
                assert_eq!(status, want, "{path}: {text}");
                let effect = match attempted {
                    Effect::Manual { .. } => {
                        let v: Value = serde_json::from_str(&text).unwrap();
                        let csr = v["csr"].as_str().unwrap().to_owned();
                        manual.push((name.clone(), csr.clone()));
                        Effect::Manual { csr }
                    }
                    Effect::Merged => {
                        merged.push(name.clone());
                        Effect::Merged
                    }
                    other => other,
                };
                ledger.ack(&name, effect);
            }
            Err(_) => {
                ledger.doubt(&name, attempted);
                return;
            }
        }
    }
}

/// Whether `name` shows `effect` on the running server (an issuance is waited for).
async fn shows(server: &Server, name: &str, effect: &Effect) -> Result<(), String> {
    let pending_path = format!("/certificates/{name}/pending");
    let cert_path = format!("/certificates/{name}/");
    let pending = || server.call(Method::GET, &pending_path, None);
    let cert = || server.call(Method::GET, &cert_path, None);
    let fail = |what: String| Err(format!("{name}: expected {effect:?}, {what}"));
    match effect {
        Effect::Absent => {
            let (p, body) = pending().await;
            let c = cert().await.0;
            if p != 404 || c != 404 {
                return fail(format!("pending {p} {body}, certificate {c}"));
            }
        }
        // The pending object is gone; the certificate stays readable without a version
        // (Key Vault's answer: its policy, disabled, no `cer`).
        Effect::PendingDeleted => {
            let (p, body) = pending().await;
            let (c, cert_body) = cert().await;
            if p != 404 || c != 200 || !cert_body["cer"].is_null() {
                return fail(format!("pending {p} {body}, certificate {c} {cert_body}"));
            }
        }
        Effect::Manual { .. } | Effect::Cancelled => {
            let (p, body) = pending().await;
            let cancel = *effect == Effect::Cancelled;
            if p != 200
                || body["status"] != "inProgress"
                || body["cancellation_requested"] != json!(cancel)
            {
                return fail(format!("pending {p} {body}"));
            }
        }
        Effect::SelfSigned | Effect::Merged => {
            let (c, body) = cert().await;
            if c != 200 || !body["cer"].is_string() {
                return fail(format!("certificate {c} {body}"));
            }
        }
        Effect::Issuing => {
            // Bounded wait for the restarted worker to finish the request.
            let mut last = Value::Null;
            for _ in 0..600 {
                let (p, body) = pending().await;
                if p == 200 && body["status"] == "completed" {
                    let (c, cert_body) = cert().await;
                    if c != 200 || !cert_body["cer"].is_string() {
                        return fail("completed without a certificate".into());
                    }
                    return Ok(());
                }
                if p != 200 || body["status"] != "inProgress" {
                    return fail(format!("pending {p} {body}"));
                }
                last = body;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            return fail(format!("issuance never completed: {last}"));
        }
        Effect::SoftDeleted => {
            let (d, body) = server
                .call(Method::GET, &format!("/deletedcertificates/{name}"), None)
                .await;
            if d != 200 || cert().await.0 != 404 {
                return fail(format!("deleted certificate {d} {body}"));
            }
        }
    }
    Ok(())
}

/// Checks every name of the ledger; returns how many acknowledged effects were checked.
async fn check_all(server: &Server, ledger: &Ledger) -> u64 {
    let names: Vec<(String, Effect, Option<Effect>)> = ledger
        .names
        .lock()
        .unwrap()
        .iter()
        .map(|(n, r)| (n.clone(), r.acked.clone(), r.in_doubt.clone()))
        .collect();
    let mut checked = 0;
    for (name, acked, in_doubt) in names {
        let mut now = acked.clone();
        match in_doubt {
            None => shows(server, &name, &acked).await.unwrap(),
            Some(attempted) => {
                let before = shows(server, &name, &acked).await;
                if before.is_err() {
                    if let Err(after) = shows(server, &name, &attempted).await {
                        panic!(
                            "neither before nor after an unanswered request: {before:?} / {after}"
                        );
                    }
                    now = attempted;
                }
            }
        }
        if acked != Effect::Absent {
            checked += 1;
        }
        // Settled: what the name shows now is what later rounds expect.
        let mut names = ledger.names.lock().unwrap();
        let r = names.get_mut(&name).unwrap();
        r.acked = now;
        r.in_doubt = None;
    }
    checked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_mixed_load_loses_no_acknowledged_effect() {
    let kills = figures::env_u64("CERTBROKER_FAULTS_KILLS", 3);
    let seed = figures::env_u64("CERTBROKER_FAULTS_SEED", 0x5EED_CE27);
    println!("kill -9 suite: {kills} kills, seed {seed}");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let ca = Arc::new(OutsideCa::new());
    let ledger = Arc::new(Ledger::default());
    let mut rng = Rng::new(seed);
    let mut checks = 0;
    let mut in_doubt = 0;
    let mut server = Server::start(&data);
    let (status, body) = server
        .call(
            Method::PUT,
            "/certificates/issuers/ca",
            Some(json!({"provider": "local-ca"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    for round in 0..kills {
        let shared = Arc::new(server);
        let stop = Arc::new(AtomicBool::new(false));
        let tasks: Vec<_> = (0..TASKS)
            .map(|task| {
                tokio::spawn(client(
                    shared.clone(),
                    ledger.clone(),
                    ca.clone(),
                    stop.clone(),
                    round,
                    task,
                    seed,
                ))
            })
            .collect();
        let delay = rng.range(300, 2500);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        // The load holds clones of the server: kill it through a fresh handle's pid.
        let pid = shared.pid();
        let killed = std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        stop.store(true, Ordering::SeqCst);
        for t in tasks {
            t.await.unwrap();
        }
        let mut old = Arc::try_unwrap(shared).ok().expect("load tasks ended");
        old.kill9();
        drop(old);
        assert_rebuild_and_verify_clean(&data);
        server = Server::start(&data);
        in_doubt += ledger
            .names
            .lock()
            .unwrap()
            .values()
            .filter(|r| r.in_doubt.is_some())
            .count() as u64;
        checks += check_all(&server, &ledger).await;
        println!(
            "kill {} after {delay} ms: {} acknowledged so far, {checks} checks passed",
            round + 1,
            ledger.acks.load(Ordering::SeqCst)
        );
    }
    server.kill9();
    assert_rebuild_and_verify_clean(&data);
    let acks = ledger.acks.load(Ordering::SeqCst);
    assert!(acks > 0, "the load never got an answer");
    figures::record(
        "kill9",
        &[
            ("kills_survived", kills),
            ("acknowledged_writes", acks),
            ("acknowledged_effects_checked", checks),
            ("unanswered_requests_settled", in_doubt),
        ],
    );
}
