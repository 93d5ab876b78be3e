//! The authorization matrix: every route of the route table, with every role and without a
//! token, under many spellings of its path (percent-encoded letters, `%2F`, double
//! slashes, dot segments, case, trailing slashes), sent byte for byte. Each answer must be
//! exactly what the route table says for the route the spelling reaches (401, 403,
//! allowed, or 404/405 when it reaches none), and each refusal is recorded once.

use certbroker::http::roles::{Permission, Role};
use certbroker::http::routes::{Access, ROUTES};

use crate::audit_chain::certbroker;
use crate::helpers::TestApp;
use crate::raw;

/// Fills a route pattern with sample values.
fn concrete(pattern: &str) -> String {
    pattern
        .replace("{name}", "c1")
        .replace("{issuer}", "i1")
        .replace("{version}", "0123456789abcdef0123456789abcdef")
}

/// Percent-encodes the first ASCII letter of `seg` (lowercase hex).
fn encode_first_letter(seg: &str) -> Option<String> {
    let i = seg.find(|c: char| c.is_ascii_alphabetic())?;
    let c = seg.as_bytes()[i];
    Some(format!("{}%{:02x}{}", &seg[..i], c, &seg[i + 1..]))
}

/// Spellings of one concrete path.
fn variants(path: &str) -> Vec<String> {
    let segs: Vec<&str> = path.split('/').collect(); // ["", "certificates", "c1", ...]
    let mut out = vec![path.to_owned()];
    for i in 1..segs.len() {
        if let Some(enc) = encode_first_letter(segs[i]) {
            let mut s = segs.clone();
            s[i] = &enc;
            out.push(s.join("/"));
        }
    }
    // The last letter, upper-case hex.
    if let Some(i) = path.rfind(|c: char| c.is_ascii_alphabetic()) {
        out.push(format!(
            "{}%{:02X}{}",
            &path[..i],
            path.as_bytes()[i],
            &path[i + 1..]
        ));
    }
    if segs.len() > 2 {
        out.push(format!("/{}%2F{}", segs[1], segs[2..].join("/")));
        out.push(format!("/{}//{}", segs[1], segs[2..].join("/")));
    }
    out.push(format!("/{path}"));
    out.push(format!("/.{path}"));
    out.push(format!("/{}/..{path}", segs[1]));
    out.push(format!("/{}/%2e%2e{path}", segs[1]));
    let mut upper = path.to_owned();
    if let Some(first) = upper.get(1..2) {
        upper.replace_range(1..2, &first.to_ascii_uppercase());
    }
    out.push(upper);
    if path.ends_with('/') {
        out.push(path.trim_end_matches('/').to_owned());
    } else {
        out.push(format!("{path}/"));
    }
    out.sort();
    out.dedup();
    out
}

/// Decodes percent-escapes as the router does before matching: all but `%2F`, `%25`, `%2B`.
fn router_path(p: &str) -> String {
    let b = p.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = &p[i + 1..i + 3];
            if let Ok(v) = u8::from_str_radix(hex, 16) {
                if !matches!(v, b'/' | b'%' | b'+') {
                    out.push(v);
                    i += 3;
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn pattern_matches(pattern: &str, path: &str) -> bool {
    let p: Vec<&str> = pattern.split('/').collect();
    let s: Vec<&str> = path.split('/').collect();
    p.len() == s.len()
        && p.iter().zip(&s).all(|(p, s)| {
            if p.starts_with('{') {
                !s.is_empty()
            } else {
                p == s
            }
        })
}

/// What the route table says `method` on `target` gets with `role` (`None`: no token).
#[derive(Debug, PartialEq, Eq)]
enum Expect {
    NotFound,
    MethodNotAllowed,
    Unauthorized,
    Forbidden(Permission),
    Allowed,
}

fn expect(method: &str, target: &str, role: Option<Role>) -> Expect {
    let path = router_path(target);
    // The first registered path that matches wins, whatever the method.
    let Some(first) = ROUTES.iter().find(|r| pattern_matches(r.path, &path)) else {
        return Expect::NotFound;
    };
    let Some(route) = ROUTES
        .iter()
        .find(|r| r.path == first.path && r.method.as_str() == method)
    else {
        return Expect::MethodNotAllowed;
    };
    match (route.access, role) {
        (Access::Public, _) => Expect::Allowed,
        (Access::Token(_), None) => Expect::Unauthorized,
        (Access::Token(p), Some(r)) if !r.allows(p) => Expect::Forbidden(p),
        (Access::Token(_), Some(_)) => Expect::Allowed,
        (Access::Metrics, None) => Expect::Unauthorized,
        (Access::Metrics, Some(r)) if !r.allows(Permission::Administer) => {
            Expect::Forbidden(Permission::Administer)
        }
        (Access::Metrics, Some(_)) => Expect::Allowed,
        (Access::ResourceManager, None) => Expect::Unauthorized,
        (Access::ResourceManager, Some(_)) => Expect::Allowed,
        // The identity protocols answer in their own shapes (tests/api/identity.rs).
        (Access::ManagedIdentity | Access::OAuthClient, _) => Expect::Allowed,
    }
}

#[test]
fn the_oracle_reads_the_table_as_the_router_does() {
    assert_eq!(router_path("/%73ecrets/rc"), "/secrets/rc");
    assert_eq!(router_path("/a%2Fb%25"), "/a%2Fb%25");
    assert_eq!(
        expect("GET", "/%73ecrets/rc", Some(Role::Reader)),
        Expect::Forbidden(Permission::ReadSecrets)
    );
    assert_eq!(
        expect(
            "POST",
            "/certificates/x/pending/%61pprove",
            Some(Role::Operator)
        ),
        Expect::Forbidden(Permission::Decide)
    );
    assert_eq!(
        expect("PUT", "/certificates/%69ssuers/byp", Some(Role::Operator)),
        Expect::Forbidden(Permission::Administer)
    );
    assert_eq!(
        expect("GET", "//secrets/rc", Some(Role::Admin)),
        Expect::NotFound
    );
    assert_eq!(
        expect("GET", "/Secrets/rc", Some(Role::Admin)),
        Expect::NotFound
    );
    assert_eq!(
        expect("PUT", "/certificates", None),
        Expect::MethodNotAllowed
    );
}

#[tokio::test]
async fn every_route_every_role_every_spelling_gets_exactly_the_route_tables_answer() {
    let app = TestApp::spawn().await;
    for name in ["c1", "c2"] {
        app.create_manual(name).await;
    }
    assert_eq!(app.put_issuer("i1", "local-ca").await.status(), 200);
    let mut tokens: Vec<(Option<Role>, Option<String>)> = vec![(None, None)];
    for role in Role::ALL {
        let (code, out) = certbroker(
            &app,
            &[
                "token",
                "create",
                "--name",
                &format!("m-{role}"),
                "--role",
                role.as_str(),
            ],
        );
        assert_eq!(code, 0, "{out}");
        tokens.push((Some(role), Some(format!("Bearer {}", out.trim()))));
    }
    let mut cases = Vec::new();
    // The managed-identity and OAuth routes speak their own protocols' error shapes, not
    // Key Vault's envelope: tests/api/identity.rs covers them.
    let key_vault_shaped = |r: &&certbroker::http::routes::RouteDef| {
        !matches!(r.access, Access::ManagedIdentity | Access::OAuthClient)
            && !r.path.contains("{tenant}")
            && !r.path.starts_with("/adfs/")
            && !r.path.starts_with("/metadata/")
    };
    for route in ROUTES.iter().filter(key_vault_shaped) {
        for v in variants(&concrete(route.path)) {
            cases.push((route.method.as_str().to_owned(), v));
        }
    }
    let before = app.refused_count().await;
    let address = app.address.clone();
    let tokens2 = tokens.clone();
    let (refusals, failures, sent) = tokio::task::spawn_blocking(move || {
        let mut refusals = 0i64;
        let mut failures = Vec::new();
        let mut sent = 0;
        for (role, header) in &tokens2 {
            for (method, path) in &cases {
                let target = format!("{path}?api-version=7.5");
                let mut headers = vec![("Content-Type", "application/json")];
                if let Some(h) = header {
                    headers.push(("Authorization", h.as_str()));
                }
                let r = raw::send(&address, method, &target, &headers, b"").unwrap();
                sent += 1;
                let want = expect(method, path, *role);
                let ok = match &want {
                    Expect::NotFound => r.status == 404,
                    Expect::MethodNotAllowed => r.status == 405,
                    Expect::Unauthorized => {
                        r.status == 401
                            && r.head
                                .to_ascii_lowercase()
                                .contains("www-authenticate: bearer")
                    }
                    Expect::Forbidden(p) => {
                        r.status == 403
                            && r.body
                                .contains(&format!("needs the role {}", p.least_role()))
                    }
                    Expect::Allowed => !matches!(r.status, 401 | 403) && r.status < 500,
                };
                if !ok {
                    failures.push(format!(
                        "{role:?} {method} {path}: want {want:?}, got {} {}",
                        r.status,
                        r.body.chars().take(160).collect::<String>()
                    ));
                }
                if r.body.contains("\"error\"") && matches!(r.status, 401 | 403 | 409) {
                    refusals += 1;
                }
                // Every answer but a success carries Key Vault's envelope.
                if r.status >= 400 && !r.body.starts_with("{\"error\":{\"code\":") {
                    failures.push(format!(
                        "{role:?} {method} {path}: {} without the envelope: {:?}",
                        r.status, r.body
                    ));
                }
            }
        }
        (refusals, failures, sent)
    })
    .await
    .unwrap();
    assert!(sent > 2000, "{sent}");
    assert!(
        failures.is_empty(),
        "{} of {sent} wrong:\n{}",
        failures.len(),
        failures[..failures.len().min(40)].join("\n")
    );
    assert_eq!(
        app.refused_count().await - before,
        refusals,
        "each refusal recorded (counted) once"
    );
    app.assert_views_rebuild_identically().await;
}
