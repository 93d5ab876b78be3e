//! The audit trail over HTTPS: refused requests recorded beside the domain events, the
//! audit queries with their filters and paging, a certificate's history, the head, and
//! roles on tokens made with the real `certbroker token` CLI.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{json, Value};

use crate::audit_chain::certbroker;
use crate::helpers::{OutsideCa, TestApp};

/// Makes a token with the real CLI and returns it.
fn make_token(app: &TestApp, name: &str, role: &str) -> String {
    let (code, out) = certbroker(app, &["token", "create", "--name", name, "--role", role]);
    assert_eq!(code, 0, "{out}");
    out.trim().to_owned()
}

async fn send_as(
    app: &TestApp,
    token: Option<&str>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut req = app.client.request(method, app.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.unwrap()
}

/// Follows `nextLink` from `first` to the end; returns every item.
async fn all_pages(app: &TestApp, first: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut url = app.url(first);
    loop {
        let r = app
            .client
            .get(&url)
            .bearer_auth(crate::helpers::TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{url}");
        let page: Value = r.json().await.unwrap();
        out.extend(page["value"].as_array().unwrap().iter().cloned());
        match page["nextLink"].as_str() {
            Some(next) => url = next.to_owned(),
            None => return out,
        }
    }
}

#[tokio::test]
async fn refused_requests_are_recorded_beside_the_domain_events_and_change_no_view() {
    let app = TestApp::spawn().await;
    app.create_manual("c1").await;
    let domain_before = app.event_count().await;
    // 401: no token.
    let r = app
        .client
        .post(app.url("/certificates/c1/create"))
        .header("x-ms-client-request-id", "probe-1")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // 409: a second create while the first is in progress.
    let r = app
        .create(
            "c1",
            json!({"policy": {"x509_props": {"subject": "CN=c1"}, "issuer": {"name": "Unknown"}}}),
        )
        .await;
    assert_eq!(r.status(), 409);
    assert_eq!(app.event_count().await, domain_before);
    assert_eq!(app.audit_count().await, 2);

    let items = all_pages(&app, "/audit/events?eventType=AccessRefused").await;
    let strip = |mut v: Value| {
        for k in ["position", "recordedAt", "hash", "remoteAddr"] {
            assert!(v.get(k).is_some(), "{k} missing in {v}");
            v.as_object_mut().unwrap().remove(k);
        }
        v
    };
    let items: Vec<Value> = items.into_iter().map(strip).collect();
    assert_eq!(
        items,
        // The 409 is recorded at once; the 401 when its window's count is written (here:
        // before the audit count was read).
        vec![
            json!({"stream": "audit/default/c1", "kind": "audit", "name": "c1", "version": 1,
                   "eventType": "AccessRefused", "schemaVersion": 3, "actor": "static",
                   "clientRequestId": null,
                   "data": {"method": "POST", "path": "/certificates/c1/create", "status": 409,
                            "error": {"code": "Forbidden",
                            "message": "A new key vault certificate can not be created or imported while a pending key vault certificate's status is inProgress."},
                            "role": "admin", "count": 1, "since": null}}),
            json!({"stream": "audit/default/c1", "kind": "audit", "name": "c1", "version": 2,
                   "eventType": "AccessRefused", "schemaVersion": 3, "actor": "anonymous",
                   "clientRequestId": "probe-1",
                   "data": {"method": "POST", "path": "/certificates/c1/create", "status": 401,
                            "error": {"code": "Unauthorized", "message": "Request is missing a Bearer or PoP token."},
                            "role": null, "count": 1, "since": null}}),
        ]
    );
    app.assert_views_rebuild_identically().await;
    let (code, out) = certbroker(&app, &["verify"]);
    assert_eq!(code, 0, "{out}");
}

#[tokio::test]
async fn history_shows_every_request_and_version_of_one_certificate_in_one_call() {
    let app = TestApp::spawn().await;
    let ca = OutsideCa::new();
    let pending = app.create_manual("web").await;
    app.create_manual("other").await;
    let x5c = ca.sign(pending["csr"].as_str().unwrap());
    assert_eq!(app.merge("web", x5c).await.status(), 201);
    app.create_manual("web").await;
    assert_eq!(app.cancel("web", None).await.status(), 200);
    assert_eq!(app.delete_pending("web", None).await.status(), 200);
    let r = send_as(&app, None, Method::GET, "/certificates/WEB/pending", None).await;
    assert_eq!(r.status(), 401);

    let r = app
        .send(Method::GET, "/certificates/Web/history", None)
        .await;
    assert_eq!(r.status(), 200);
    let page: Value = r.json().await.unwrap();
    assert_eq!(page["nextLink"], Value::Null);
    let timeline: Vec<(String, String, String)> = page["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(e["name"], "web");
            (
                e["eventType"].as_str().unwrap().to_owned(),
                e["actor"].as_str().unwrap().to_owned(),
                e["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let s = |a: &str, b: &str, c: &str| (a.to_owned(), b.to_owned(), c.to_owned());
    assert_eq!(
        timeline,
        vec![
            s("PendingCreated", "static", "certificate"),
            s("CertificateMerged", "static", "certificate"),
            s("PendingCreated", "static", "certificate"),
            s("CancellationRequested", "static", "certificate"),
            s("PendingDeleted", "static", "certificate"),
            s("AccessRefused", "anonymous", "audit"),
        ]
    );
    // The same from the CLI, as JSON lines.
    let (code, out) = certbroker(&app, &["events", "--name", "web", "--format", "json"]);
    assert_eq!(code, 0, "{out}");
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines, page["value"].as_array().unwrap().clone());
    // And as a table.
    let (code, out) = certbroker(&app, &["events", "--name", "web"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.lines().count(), 7, "{out}");
    assert!(
        out.lines().nth(2).unwrap().contains("CertificateMerged"),
        "{out}"
    );
}

#[tokio::test]
async fn the_head_matches_what_verify_prints() {
    let app = TestApp::spawn().await;
    let r = app.send(Method::GET, "/audit/head", None).await;
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"position": 0, "hash": null})
    );
    app.create_manual("c1").await;
    app.create_manual("c2").await;
    let head: Value = app
        .send(Method::GET, "/audit/head", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(head["position"], 2);
    let hash = head["hash"].as_str().unwrap();
    let (code, out) = certbroker(&app, &["verify", "--expect-head", hash]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("head position 2 hash {hash}")),
        "{out}"
    );
}

#[tokio::test]
async fn bad_audit_queries_get_400_with_the_envelope() {
    let app = TestApp::spawn().await;
    for (query, needle) in [
        (
            "/audit/events?from=yesterday",
            "from must be an RFC 3339 time",
        ),
        (
            "/audit/events?to=2026-13-01T00:00:00Z",
            "to must be an RFC 3339 time",
        ),
        (
            "/audit/events?maxresults=0",
            "maxresults must be an integer",
        ),
        (
            "/audit/events?maxresults=1001",
            "maxresults must be an integer",
        ),
        ("/audit/events?after=-1", "after must be a non-negative"),
        (
            "/audit/events?skiptoken=x",
            "skiptoken must be a non-negative",
        ),
        ("/audit/events?name=bad_name!", "certificate"),
        ("/certificates/bad_name!/history", "certificate"),
    ] {
        let r = app.send(Method::GET, query, None).await;
        assert_eq!(r.status(), 400, "{query}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "BadParameter", "{query}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{query}: {message}");
    }
    let r = app
        .send(Method::POST, "/audit/events", Some(json!({})))
        .await;
    assert_eq!(r.status(), 405);
    assert_eq!(app.event_count().await, 0);
}

/// The positions matching a filter, computed straight from the table.
async fn expected(app: &TestApp, where_clause: &str) -> Vec<i64> {
    sqlx::query_scalar(&format!(
        "SELECT position FROM events WHERE {where_clause} ORDER BY position"
    ))
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

fn positions(items: &[Value]) -> Vec<i64> {
    items
        .iter()
        .map(|v| v["position"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn audit_events_pages_through_thousands_of_events_with_every_filter() {
    // One record per refusal, so that refusals make thousands of events.
    let app = TestApp::spawn_with(|s| s.limits.refusal_window_seconds = 0).await;
    let reader = make_token(&app, "auditor-reader", "reader");
    // Thousands of records from three actors on a handful of certificates: refusals are
    // cheap to make and are real events written by the writer.
    let mut tasks = Vec::new();
    for i in 0..2400usize {
        let client = app.client.clone();
        let url = app.url(&format!("/certificates/c{}/create", i % 7));
        let token = match i % 3 {
            0 => None,
            _ => Some(reader.clone()),
        };
        tasks.push(async move {
            let mut req = client.post(url).json(&json!({}));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            req.send().await.unwrap().status().as_u16()
        });
    }
    let mut statuses = BTreeSet::new();
    for batch in tasks_into_batches(tasks, 32) {
        statuses.extend(futures_util::future::join_all(batch).await);
    }
    assert_eq!(statuses, BTreeSet::from([401, 403]));
    for i in 0..5 {
        app.create_manual(&format!("c{i}")).await;
    }
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(total > 2400, "{total}");
    let mid: String = sqlx::query_scalar("SELECT recorded_at FROM events WHERE position = 800")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let late: String = sqlx::query_scalar("SELECT recorded_at FROM events WHERE position = 2000")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let cases: Vec<(String, String)> = vec![
        (String::new(), "1 = 1".into()),
        (
            "name=C3".into(),
            "stream_id IN ('certificate/default/c3', 'audit/default/c3')".into(),
        ),
        ("eventType=PendingCreated".into(), "event_type = 'PendingCreated'".into()),
        ("actor=anonymous".into(), "actor = 'anonymous'".into()),
        ("actor=auditor-reader".into(), "actor = 'auditor-reader'".into()),
        (
            format!("from={mid}"),
            format!("recorded_at >= '{mid}'"),
        ),
        (format!("to={late}"), format!("recorded_at <= '{late}'")),
        ("after=1234".into(), "position > 1234".into()),
        (
            format!("name=c2&actor=auditor-reader&from={mid}&to={late}&after=900&eventType=AccessRefused"),
            format!(
                "stream_id IN ('certificate/default/c2', 'audit/default/c2') AND actor = 'auditor-reader' \
                 AND recorded_at >= '{mid}' AND recorded_at <= '{late}' AND position > 900 \
                 AND event_type = 'AccessRefused'"
            ),
        ),
    ];
    for (query, clause) in cases {
        let want = expected(&app, &clause).await;
        assert!(!want.is_empty(), "{query} matches nothing");
        let query = utf8_query(&query);
        let got = all_pages(&app, &format!("/audit/events?maxresults=97&{query}")).await;
        assert_eq!(positions(&got), want, "{query}");
    }
    // The default page size, and the CLI over the same filter.
    let got = all_pages(&app, "/audit/events?actor=anonymous").await;
    assert_eq!(positions(&got), expected(&app, "actor = 'anonymous'").await);
    let (code, out) = certbroker(
        &app,
        &["events", "--actor", "auditor-reader", "--format", "json"],
    );
    assert_eq!(code, 0);
    let cli: Vec<i64> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["position"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(cli, expected(&app, "actor = 'auditor-reader'").await);
    app.assert_views_rebuild_identically().await;
}

/// Percent-encodes the `+` of time offsets (the rest is URL-safe).
fn utf8_query(q: &str) -> String {
    q.replace('+', "%2B")
}

fn tasks_into_batches<F>(tasks: Vec<F>, size: usize) -> Vec<Vec<F>> {
    let mut out = Vec::new();
    let mut it = tasks.into_iter().peekable();
    while it.peek().is_some() {
        out.push(it.by_ref().take(size).collect());
    }
    out
}

/// One request per route the roles must cover, and the least role it needs.
fn routes() -> Vec<(Method, &'static str, Option<Value>, &'static str)> {
    let create =
        json!({"policy": {"x509_props": {"subject": "CN=r"}, "issuer": {"name": "Unknown"}}});
    vec![
        (Method::GET, "/certificates/c1/pending", None, "reader"),
        (Method::GET, "/certificates/c1/", None, "reader"),
        (Method::GET, "/certificates/issuers", None, "reader"),
        (Method::GET, "/certificates/issuers/i1", None, "reader"),
        (Method::GET, "/ca/certificates", None, "reader"),
        (
            Method::POST,
            "/certificates/r1/create",
            Some(create),
            "operator",
        ),
        (
            Method::PATCH,
            "/certificates/c1/pending",
            Some(json!({"cancellation_requested": true})),
            "operator",
        ),
        (
            Method::POST,
            "/certificates/c1/pending/merge",
            Some(json!({"x5c": ["AAAA"]})),
            "operator",
        ),
        (Method::DELETE, "/certificates/c2/pending", None, "operator"),
        (
            Method::POST,
            "/certificates/c3/pending/approve",
            None,
            "officer",
        ),
        (
            Method::POST,
            "/certificates/c3/pending/reject",
            None,
            "officer",
        ),
        (
            Method::PUT,
            "/certificates/issuers/i2",
            Some(json!({"provider": "local-ca"})),
            "admin",
        ),
        (
            Method::PATCH,
            "/certificates/issuers/i1",
            Some(json!({"provider": "local-ca"})),
            "admin",
        ),
        (Method::DELETE, "/certificates/issuers/i3", None, "admin"),
        (Method::DELETE, "/deletedcertificates/c1", None, "admin"),
        (Method::GET, "/audit/events", None, "admin"),
        (Method::GET, "/audit/head", None, "admin"),
        (Method::GET, "/certificates/c1/history", None, "admin"),
    ]
}

fn covers(role: &str, needed: &str) -> bool {
    role == "admin"
        || role == needed
        || (needed == "reader" && matches!(role, "operator" | "officer"))
}

#[tokio::test]
async fn each_role_against_each_route_is_allowed_or_403_and_the_403_is_recorded() {
    let app = TestApp::spawn().await;
    for name in ["c1", "c2", "c3"] {
        app.create_manual(name).await;
    }
    assert_eq!(app.put_issuer("i1", "local-ca").await.status(), 200);
    assert_eq!(app.put_issuer("i3", "local-ca").await.status(), 200);
    let roles = ["reader", "operator", "officer", "admin"];
    let tokens: Vec<(&str, String)> = roles
        .iter()
        .map(|r| (*r, make_token(&app, &format!("t-{r}"), r)))
        .collect();
    for (role, token) in &tokens {
        for (method, path, body, needed) in routes() {
            let before = app.audit_count().await;
            let r = send_as(&app, Some(token), method.clone(), path, body).await;
            let status = r.status().as_u16();
            let what = format!("{role} {method} {path}: {status}");
            if covers(role, needed) {
                assert!(
                    status < 500 && status != 401 && status != 403,
                    "{what} {}",
                    r.text().await.unwrap()
                );
            } else {
                assert_eq!(status, 403, "{what}");
                let body: Value = r.json().await.unwrap();
                assert_eq!(body["error"]["code"], "Forbidden", "{what}");
                let message = body["error"]["message"].as_str().unwrap();
                assert!(
                    message.contains(&format!("needs the role {needed}")),
                    "{what}: {message}"
                );
                assert_eq!(app.audit_count().await, before + 1, "{what}");
                let (actor, data): (String, String) = sqlx::query_as(
                    "SELECT actor, payload FROM events ORDER BY position DESC LIMIT 1",
                )
                .fetch_one(&app.pool)
                .await
                .unwrap();
                assert_eq!(actor, format!("t-{role}"), "{what}");
                let data: Value = serde_json::from_str(&data).unwrap();
                assert_eq!(data["status"], 403, "{what}");
                assert_eq!(data["role"], *role, "{what}");
                assert_eq!(data["method"], method.as_str(), "{what}");
                assert_eq!(data["path"], path, "{what}");
            }
        }
    }
    app.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn revoked_tokens_stop_at_once_and_configured_tokens_stay_admin() {
    let app = TestApp::spawn().await;
    let token = make_token(&app, "ops", "operator");
    let r = send_as(
        &app,
        Some(&token),
        Method::GET,
        "/certificates/c1/pending",
        None,
    )
    .await;
    assert_eq!(r.status(), 404);
    let (code, out) = certbroker(&app, &["token", "list"]);
    assert_eq!(code, 0);
    assert!(out.contains("ops") && out.contains("operator"), "{out}");
    assert!(!out.contains(&token), "the token is never shown again");
    let stored: String = sqlx::query_scalar("SELECT sha256 FROM tokens WHERE name = 'ops'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        stored,
        hex::encode(certbroker::crypto::seal::sha256(token.as_bytes()))
    );
    let (code, out) = certbroker(&app, &["token", "revoke", "--name", "ops"]);
    assert_eq!(code, 0, "{out}");
    let r = send_as(
        &app,
        Some(&token),
        Method::GET,
        "/certificates/c1/pending",
        None,
    )
    .await;
    assert_eq!(r.status(), 401);
    // Reserved and duplicate names, unknown roles.
    for args in [
        vec!["token", "create", "--name", "dev", "--role", "reader"],
        vec!["token", "create", "--name", "ops", "--role", "reader"],
        vec!["token", "create", "--name", "x", "--role", "root"],
        vec!["token", "revoke", "--name", "nobody"],
    ] {
        let (code, _) = certbroker(&app, &args);
        assert_ne!(code, 0, "{args:?}");
    }
    // The configured token is an admin.
    let r = app.send(Method::GET, "/audit/events", None).await;
    assert_eq!(r.status(), 200);
    let items: Value = r.json().await.unwrap();
    let types: Vec<&str> = items["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["eventType"].as_str().unwrap())
        .collect();
    assert_eq!(types, vec!["TokenCreated", "TokenRevoked", "AccessRefused"]);
}
