//! Unchanged Azure clients' identity protocols at the wire: the managed-identity endpoints
//! (App Service and IMDS styles, HTTPS and the plain-HTTP loopback listener), the JWTs they
//! mint and how the gate checks them (signature, expiry, audience, the identity still
//! existing), OAuth client credentials (secret and workload-identity assertion), and the
//! resource-manager reads the az CLI makes.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::Response;
use serde_json::{json, Value};

use crate::audit_chain::certbroker;
use crate::helpers::{TestApp, TestClock};

const VAULT: &str = "https://vault.azure.net";
const ARM: &str = "https://management.core.windows.net/";

fn tenant_of(app: &TestApp) -> String {
    std::fs::read_to_string(app.data_dir.join("identity/tenant-id")).unwrap()
}

fn claims(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// Makes a token with `certbroker token create`.
fn cli_token(app: &TestApp, name: &str, role: &str) -> String {
    let (code, out) = certbroker(app, &["token", "create", "--name", name, "--role", role]);
    assert_eq!(code, 0, "{out}");
    out.trim().to_owned()
}

async fn msi(app: &TestApp, header: Option<(&str, &str)>, query: &str) -> Response {
    let mut req = app.client.get(format!("{}/msi/token?{query}", app.address));
    if let Some((k, v)) = header {
        req = req.header(k, v);
    }
    req.send().await.unwrap()
}

async fn msi_token(app: &TestApp, secret: &str, resource: &str) -> String {
    let r = msi(
        app,
        Some(("X-IDENTITY-HEADER", secret)),
        &format!("api-version=2019-08-01&resource={resource}"),
    )
    .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

async fn get_with(app: &TestApp, path: &str, token: &str) -> Response {
    app.client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn msi_token_is_a_jwt_the_vault_accepts_until_its_token_is_revoked() {
    let app = TestApp::spawn().await;
    let secret = cli_token(&app, "app1", "operator");
    let r = msi(
        &app,
        Some(("X-IDENTITY-HEADER", &secret)),
        "api-version=2019-08-01&resource=https://vault.azure.net",
    )
    .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(
        keys,
        [
            "access_token",
            "client_id",
            "expires_on",
            "resource",
            "token_type"
        ]
    );
    assert_eq!(body["resource"], VAULT);
    assert_eq!(body["token_type"], "Bearer");
    let expires_on: i64 = body["expires_on"].as_str().unwrap().parse().unwrap();
    let jwt = body["access_token"].as_str().unwrap();
    let c = claims(jwt);
    assert_eq!(c["aud"], VAULT);
    assert_eq!(c["tid"], tenant_of(&app));
    assert_eq!(c["idtyp"], "app");
    assert_eq!(c["appid"], body["client_id"]);
    assert_eq!(c["exp"], expires_on);
    assert_eq!(c["oid"], c["sub"]);
    assert!(c["iat"].as_i64().unwrap() <= c["nbf"].as_i64().unwrap());
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(jwt.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "ES256");

    // The token works, with the token's role.
    let r = get_with(&app, "/certificates", jwt).await;
    assert_eq!(r.status(), 200);
    let r = get_with(&app, "/ops/whoami", jwt).await;
    assert_eq!(r.status(), 200);
    let who: Value = r.json().await.unwrap();
    assert_eq!(who["role"], "operator", "{who}");

    // Revoking the token stops its JWTs at once.
    let (code, _) = certbroker(&app, &["token", "revoke", "--name", "app1"]);
    assert_eq!(code, 0);
    let r = get_with(&app, "/certificates", jwt).await;
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["error"]["message"],
        "The identity the access token was issued to no longer exists."
    );
    // And the identity header gets no new ones.
    let r = msi(
        &app,
        Some(("X-IDENTITY-HEADER", &secret)),
        "api-version=2019-08-01&resource=https://vault.azure.net",
    )
    .await;
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn an_identity_lookup_that_fails_is_503_on_both_managed_identity_styles() {
    let app = TestApp::spawn().await;
    app.rename_table("tokens", "tokens_gone").await;
    let secret = ("X-IDENTITY-HEADER", "cbt_not-configured");
    let query = "api-version=2019-08-01&resource=https://vault.azure.net";
    let r = msi(&app, Some(secret), query).await;
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["statusCode"], 503, "{body}");
    let r = app
        .client
        .get(format!(
            "{}/metadata/identity/oauth2/token?{query}",
            app.address
        ))
        .header("Metadata", "true")
        .header(secret.0, secret.1)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    app.rename_table("tokens_gone", "tokens").await;
    // Readable again, the same secret is simply unknown.
    assert_eq!(msi(&app, Some(secret), query).await.status(), 401);
}

#[tokio::test]
async fn msi_refusals_use_the_status_code_body_and_mint_nothing() {
    let app = TestApp::spawn().await;
    for header in [None, Some(("X-IDENTITY-HEADER", "wrong"))] {
        let r = msi(
            &app,
            header,
            "api-version=2019-08-01&resource=https://vault.azure.net",
        )
        .await;
        assert_eq!(r.status(), 401, "{header:?}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["statusCode"], 401);
        assert!(body["message"]
            .as_str()
            .unwrap()
            .contains("x-identity-header"));
        assert_eq!(body.as_object().unwrap().len(), 2);
    }
    // 2017-09-01 reads the `secret` header, not X-IDENTITY-HEADER.
    let r = msi(
        &app,
        Some(("X-IDENTITY-HEADER", "test-token")),
        "api-version=2017-09-01&resource=https://vault.azure.net",
    )
    .await;
    assert_eq!(r.status(), 401);
    let r = msi(
        &app,
        Some(("secret", "test-token")),
        "api-version=2017-09-01&resource=https://vault.azure.net",
    )
    .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert!(body["expires_on"].as_str().unwrap().parse::<i64>().is_ok());
    // Unknown api-version, missing resource, a user-assigned identity it does not have.
    for q in [
        "api-version=2020-01-01&resource=x",
        "api-version=2019-08-01",
        "api-version=2019-08-01&resource=x&client_id=00000000-0000-0000-0000-000000000000",
    ] {
        let r = msi(&app, Some(("X-IDENTITY-HEADER", "test-token")), q).await;
        assert_eq!(r.status(), 400, "{q}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["statusCode"], 400, "{q}");
    }
    // Its own client id selects it.
    let r = msi(
        &app,
        Some(("X-IDENTITY-HEADER", "test-token")),
        "api-version=2019-08-01&resource=x",
    )
    .await;
    let id = r.json::<Value>().await.unwrap()["client_id"].clone();
    let r = msi(
        &app,
        Some(("X-IDENTITY-HEADER", "test-token")),
        &format!(
            "api-version=2019-08-01&resource=x&client_id={}",
            id.as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(app.event_count().await, 0);
}

#[tokio::test]
async fn imds_answers_on_both_paths_with_metadata_true_for_its_configured_identity() {
    let app = TestApp::spawn_with(|s| s.identity.imds_identity = "static".into()).await;
    for path in [
        "/metadata/identity/oauth2/token",
        "/metadata/identity/oauth2/token/",
    ] {
        let url = format!(
            "{}{path}?api-version=2018-02-01&resource=https://vault.azure.net",
            app.address
        );
        let r = app.client.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 400, "{path} without Metadata");
        let r = app
            .client
            .get(&url)
            .header("Metadata", "true")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let body: Value = r.json().await.unwrap();
        let expires_in: i64 = body["expires_in"].as_str().unwrap().parse().unwrap();
        assert_eq!(expires_in, 3599);
        assert!(body["expires_on"].as_str().unwrap().parse::<i64>().is_ok());
        assert_eq!(body["resource"], VAULT);
        let jwt = body["access_token"].as_str().unwrap();
        assert_eq!(get_with(&app, "/certificates", jwt).await.status(), 200);
    }
    // Without a configured identity IMDS refuses.
    let app = TestApp::spawn().await;
    let r = app
        .client
        .get(format!(
            "{}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=x",
            app.address
        ))
        .header("Metadata", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["statusCode"], 401);
}

#[tokio::test]
async fn the_plain_http_listener_serves_the_managed_identity_routes_only() {
    let app = TestApp::spawn_with(|s| s.identity.http_listen = "127.0.0.1:0".into()).await;
    let port = app.identity_port.unwrap();
    let plain = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let r = plain
        .get(format!(
            "{base}/msi/token?api-version=2019-08-01&resource=https://vault.azure.net"
        ))
        .header("X-IDENTITY-HEADER", "test-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let jwt = r.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // The token is used over HTTPS.
    assert_eq!(get_with(&app, "/certificates", &jwt).await.status(), 200);
    // Nothing else is served in clear, not even with a token.
    for path in [
        "/certificates?api-version=7.5",
        "/healthz",
        "/subscriptions",
    ] {
        let r = plain
            .get(format!("{base}{path}"))
            .bearer_auth(&jwt)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
}

#[test]
fn the_plain_http_listener_must_be_on_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = certbroker::config::Settings::for_test(dir.path());
    s.identity.http_listen = "0.0.0.0:0".into();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let err = rt
        .block_on(certbroker::startup::Application::build(s))
        .err()
        .unwrap();
    assert!(
        format!("{err:#}").contains("not a loopback address"),
        "{err:#}"
    );
}

#[tokio::test]
async fn tokens_are_checked_for_audience_expiry_and_signature() {
    let clock = TestClock::new();
    let app = TestApp::spawn_with_clock(|_| {}, clock.clone()).await;
    let vault = msi_token(&app, "test-token", VAULT).await;
    let arm = msi_token(&app, "test-token", ARM).await;
    // The audience exactly as asked.
    assert_eq!(claims(&arm)["aud"], ARM);
    // Each audience on its own routes only.
    assert_eq!(get_with(&app, "/certificates", &vault).await.status(), 200);
    let r = get_with(&app, "/certificates", &arm).await;
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["message"],
        "The access token's audience is not accepted on this route."
    );
    let subs = |t: String| {
        let c = app.client.clone();
        let url = format!("{}/subscriptions?api-version=2022-12-01", app.address);
        async move { c.get(url).bearer_auth(t).send().await.unwrap() }
    };
    assert_eq!(subs(arm.clone()).await.status(), 200);
    assert_eq!(subs(vault.clone()).await.status(), 401);
    // A changed claim breaks the signature.
    let parts: Vec<&str> = vault.split('.').collect();
    let mut c = claims(&vault);
    c["name"] = json!("someone-else");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(c.to_string()),
        parts[2]
    );
    let r = get_with(&app, "/certificates", &forged).await;
    assert_eq!(r.status(), 401);
    // Expired once its lifetime has passed.
    clock.advance(chrono::Duration::seconds(3601));
    let r = get_with(&app, "/certificates", &vault).await;
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["message"],
        "The access token has expired."
    );
}

/// Makes an OAuth client with `certbroker client create`: (client id, secret).
fn cli_client(app: &TestApp, name: &str, role: &str) -> (String, String) {
    let (code, out) = certbroker(app, &["client", "create", "--name", name, "--role", role]);
    assert_eq!(code, 0, "{out}");
    let field = |k: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(k))
            .unwrap()
            .trim()
            .to_owned()
    };
    (field("client_id "), field("client_secret "))
}

/// A token request and the refusal it must get: (tenant, form, status, OAuth error).
type Refusal<'a> = (&'a str, Vec<(&'a str, &'a str)>, u16, &'a str);

async fn token_request(app: &TestApp, tenant: &str, form: &[(&str, &str)]) -> Response {
    app.client
        .post(format!("{}/{tenant}/oauth2/v2.0/token", app.address))
        .form(form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn client_credentials_with_a_secret_get_a_token_with_the_clients_role() {
    let app = TestApp::spawn().await;
    let (client_id, secret) = cli_client(&app, "reader-app", "reader");
    let tid = tenant_of(&app);
    for tenant in ["adfs".to_owned(), tid.clone()] {
        let path = if tenant == "adfs" {
            "/adfs/.well-known/openid-configuration".to_owned()
        } else {
            format!("/{tenant}/v2.0/.well-known/openid-configuration")
        };
        let r = app
            .client
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let conf: Value = r.json().await.unwrap();
        assert_eq!(
            conf["token_endpoint"],
            format!("{}/{tenant}/oauth2/v2.0/token", app.address).replace("127.0.0.1", "127.0.0.1")
        );
        assert!(conf["issuer"].as_str().unwrap().starts_with("https://"));
        assert!(conf["authorization_endpoint"]
            .as_str()
            .unwrap()
            .starts_with("https://"));

        let r = token_request(
            &app,
            &tenant,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &client_id),
                ("client_secret", &secret),
                ("scope", "https://vault.azure.net/.default"),
                ("client_info", "1"),
            ],
        )
        .await;
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 3599);
        assert_eq!(body["ext_expires_in"], 3599);
        let jwt = body["access_token"].as_str().unwrap();
        let c = claims(jwt);
        assert_eq!(c["aud"], VAULT);
        assert_eq!(c["appid"], client_id.as_str());
        assert_eq!(c["tid"], tid.as_str());
        assert_eq!(get_with(&app, "/certificates", jwt).await.status(), 200);
        // A reader may not create.
        let r = app
            .client
            .post(app.url("/certificates/c1/create"))
            .bearer_auth(jwt)
            .json(&json!({"policy": {"issuer": {"name": "Self"}, "x509_props": {"subject": "CN=c1"}}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
    }
    // Wrong secret, unknown client, unknown tenant, wrong grant.
    let cases: [Refusal; 4] = [
        (
            "adfs",
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", &client_id),
                ("client_secret", "nope"),
                ("scope", "https://vault.azure.net/.default"),
            ],
            401,
            "invalid_client",
        ),
        (
            "adfs",
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", "someone"),
                ("client_secret", &secret),
                ("scope", "https://vault.azure.net/.default"),
            ],
            401,
            "invalid_client",
        ),
        (
            "other-tenant",
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", &client_id),
                ("client_secret", &secret),
                ("scope", "https://vault.azure.net/.default"),
            ],
            400,
            "invalid_tenant",
        ),
        (
            "adfs",
            vec![
                ("grant_type", "password"),
                ("client_id", &client_id),
                ("client_secret", &secret),
                ("scope", "https://vault.azure.net/.default"),
            ],
            400,
            "unsupported_grant_type",
        ),
    ];
    for (tenant, form, status, error) in cases {
        let r = token_request(&app, tenant, &form).await;
        assert_eq!(r.status(), status, "{error}");
        assert_eq!(r.json::<Value>().await.unwrap()["error"], error);
    }

    // Revoking the client stops its tokens at once; both changes are in the audit trail.
    let r = token_request(
        &app,
        "adfs",
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &client_id),
            ("client_secret", &secret),
            ("scope", "https://vault.azure.net/.default"),
        ],
    )
    .await;
    let jwt = r.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (code, _) = certbroker(&app, &["client", "revoke", "--name", "reader-app"]);
    assert_eq!(code, 0);
    assert_eq!(get_with(&app, "/certificates", &jwt).await.status(), 401);
    let (code, out) = certbroker(&app, &["client", "list"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("reader-app") && out.contains(&client_id),
        "{out}"
    );
    assert!(!out.contains(&secret));
    let types: Vec<String> = sqlx::query_scalar(
        "SELECT event_type FROM events WHERE event_type LIKE 'Client%' ORDER BY position",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(types, ["ClientCreated", "ClientRevoked"]);
    let stored: String = sqlx::query_scalar("SELECT secret_sha256 FROM clients")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, hex::encode(openssl::sha::sha256(secret.as_bytes())));
}

/// An RS256 JWT signed with `key`.
fn rs256(key: &openssl::pkey::PKey<openssl::pkey::Private>, claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "RS256", "typ": "JWT"}).to_string());
    let input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(claims.to_string()));
    let mut signer =
        openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), key).unwrap();
    signer.update(input.as_bytes()).unwrap();
    format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(signer.sign_to_vec().unwrap())
    )
}

#[tokio::test]
async fn a_workload_identity_assertion_from_a_configured_issuer_gets_a_token() {
    let key = openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
    let keydir = tempfile::tempdir().unwrap();
    let key_file = keydir.path().join("issuer.pem");
    std::fs::write(&key_file, key.public_key_to_pem().unwrap()).unwrap();
    let key_file = key_file.display().to_string();
    let app = TestApp::spawn_with(|s| {
        s.identity.federated = vec![certbroker::config::FederatedIdentity {
            name: "wl".into(),
            role: "operator".into(),
            client_id: "11111111-2222-3333-4444-555555555555".into(),
            issuer: "https://oidc.example".into(),
            subject: "system:serviceaccount:ns:app".into(),
            key_file,
            audience: "api://AzureADTokenExchange".into(),
        }];
    })
    .await;
    let now = chrono::Utc::now().timestamp();
    let assertion = |sub: &str, exp: i64| {
        rs256(
            &key,
            &json!({"iss": "https://oidc.example", "sub": sub, "aud": ["api://AzureADTokenExchange"], "exp": exp, "nbf": now - 10}),
        )
    };
    let ask = |a: String| {
        let form = vec![
            ("grant_type".to_owned(), "client_credentials".to_owned()),
            (
                "client_id".to_owned(),
                "11111111-2222-3333-4444-555555555555".to_owned(),
            ),
            (
                "client_assertion_type".to_owned(),
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned(),
            ),
            ("client_assertion".to_owned(), a),
            (
                "scope".to_owned(),
                "https://vault.azure.net/.default".to_owned(),
            ),
        ];
        let c = app.client.clone();
        let url = format!("{}/adfs/oauth2/v2.0/token", app.address);
        async move { c.post(url).form(&form).send().await.unwrap() }
    };
    let r = ask(assertion("system:serviceaccount:ns:app", now + 600)).await;
    assert_eq!(r.status(), 200);
    let jwt = r.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = get_with(&app, "/ops/whoami", &jwt).await;
    assert_eq!(r.status(), 200);
    let who: Value = r.json().await.unwrap();
    assert_eq!(who["role"], "operator", "{who}");
    // Another subject, an expired assertion, another key: refused.
    let r = ask(assertion("system:serviceaccount:ns:other", now + 600)).await;
    assert_eq!(r.status(), 401);
    let r = ask(assertion("system:serviceaccount:ns:app", now - 1)).await;
    assert_eq!(r.status(), 401);
    let other = openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
    let r = ask(rs256(
        &other,
        &json!({"iss": "https://oidc.example", "sub": "system:serviceaccount:ns:app", "aud": "api://AzureADTokenExchange", "exp": now + 600}),
    ))
    .await;
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn the_cloud_metadata_names_this_server_and_the_vault_suffix_with_its_port() {
    let app = TestApp::spawn().await;
    let port = app.address.rsplit(':').next().unwrap().to_owned();
    let host = format!("localhost:{port}");
    let r = app
        .client
        .get(format!(
            "https://{host}/metadata/endpoints?api-version=2022-09-01"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let cloud: Value = r.json().await.unwrap();
    assert_eq!(cloud["resourceManager"], format!("https://{host}/"));
    assert_eq!(
        cloud["authentication"]["loginEndpoint"],
        format!("https://{host}/")
    );
    assert_eq!(
        cloud["authentication"]["audiences"],
        json!([
            "https://management.core.windows.net/",
            "https://management.azure.com/"
        ])
    );
    assert_eq!(
        cloud["suffixes"]["keyVaultDns"],
        format!("vault.localhost:{port}")
    );
    let r = app
        .client
        .get(format!(
            "https://{host}/metadata/endpoints?api-version=2019-05-01"
        ))
        .send()
        .await
        .unwrap();
    let list: Value = r.json().await.unwrap();
    assert_eq!(list, json!([cloud]));

    // /subscriptions and /tenants need a token; with one they show the tenant.
    let url = format!("{}/subscriptions?api-version=2022-12-01", app.address);
    assert_eq!(app.client.get(&url).send().await.unwrap().status(), 401);
    let arm = msi_token(&app, "test-token", ARM).await;
    let subs: Value = app
        .client
        .get(&url)
        .bearer_auth(&arm)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sub = &subs["value"][0];
    assert_eq!(sub["tenantId"], tenant_of(&app));
    assert_eq!(sub["state"], "Enabled");
    assert_eq!(
        sub["id"],
        format!("/subscriptions/{}", sub["subscriptionId"].as_str().unwrap())
    );
    let tenants: Value = app
        .client
        .get(format!("{}/tenants?api-version=2022-12-01", app.address))
        .bearer_auth(&arm)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tenants["value"][0]["tenantId"], tenant_of(&app));
}

#[tokio::test]
async fn the_tenant_and_signing_key_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let build = || {
        let s = certbroker::config::Settings::for_test(dir.path());
        certbroker::startup::Application::build(s)
    };
    let app = build().await.unwrap();
    let tid = std::fs::read_to_string(dir.path().join("identity/tenant-id")).unwrap();
    let sealed = std::fs::read(dir.path().join("identity/signing-key.sealed")).unwrap();
    drop(app);
    let _again = build().await.unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("identity/tenant-id")).unwrap(),
        tid
    );
    assert_eq!(
        std::fs::read(dir.path().join("identity/signing-key.sealed")).unwrap(),
        sealed
    );
    assert!(uuid::Uuid::parse_str(&tid).is_ok());
    // The key is sealed: no PEM or DER private key on disk.
    assert!(!String::from_utf8_lossy(&sealed).contains("PRIVATE KEY"));
}
