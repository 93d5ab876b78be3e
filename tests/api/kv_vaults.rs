//! Several vaults on one server, named by the request's host; and the api-versions accepted.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{TestApp, API, TOKEN};

/// A client that reaches the test server under the given host names.
struct VaultClient {
    client: reqwest::Client,
    port: u16,
}

impl VaultClient {
    fn new(app: &TestApp, vaults: &[&str]) -> Self {
        let port: u16 = app.address.rsplit(':').next().unwrap().parse().unwrap();
        let pem = std::fs::read(app.data_dir.join("tls").join("ca.pem")).unwrap();
        let mut b = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap());
        for host in vaults {
            b = b.resolve(host, format!("127.0.0.1:{port}").parse().unwrap());
        }
        VaultClient {
            client: b.build().unwrap(),
            port,
        }
    }

    fn base(&self, vault: &str) -> String {
        let host = if vault == "team-a" {
            "team-a.localhost"
        } else {
            "team-b.vault.localhost"
        };
        format!("https://{host}:{}", self.port)
    }

    async fn send(
        &self,
        vault: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut req = self
            .client
            .request(
                method,
                format!("{}{path}{sep}api-version={API}", self.base(vault)),
            )
            .bearer_auth(TOKEN);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

fn self_signed(name: &str) -> Value {
    json!({"policy": {"key_props": {"kty": "EC"}, "x509_props": {"subject": format!("CN={name}")}, "issuer": {"name": "Self"}}})
}

#[tokio::test]
async fn each_host_named_vault_sees_only_its_own_objects_and_ids_use_its_host() {
    // team-a is listed (its own name in the certificate); team-b uses the wildcard.
    let app = TestApp::spawn_with(|s| s.vaults.names = vec!["team-a".into()]).await;
    let c = VaultClient::new(&app, &["team-a.localhost", "team-b.vault.localhost"]);
    let (status, _) = c
        .send(
            "team-a",
            Method::POST,
            "/certificates/shared/create",
            Some(self_signed("a")),
        )
        .await;
    assert_eq!(status, 202);
    let (status, bundle) = c
        .send("team-a", Method::GET, "/certificates/shared/", None)
        .await;
    assert_eq!(status, 200);
    assert!(bundle["id"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{}/certificates/shared/", c.base("team-a"))));
    assert!(bundle["sid"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{}/secrets/shared/", c.base("team-a"))));
    // Invisible elsewhere: the other vault and the default vault (bare IP).
    let (status, err) = c
        .send("team-b", Method::GET, "/certificates/shared/", None)
        .await;
    assert_eq!(status, 404);
    assert_eq!(err["error"]["code"], "CertificateNotFound");
    let r = app.get_certificate("shared").await;
    assert_eq!(r.status(), 404);
    // The same name is free in the other vault.
    let (status, _) = c
        .send(
            "team-b",
            Method::POST,
            "/certificates/shared/create",
            Some(self_signed("b")),
        )
        .await;
    assert_eq!(status, 202);
    let (_, list_a) = c.send("team-a", Method::GET, "/certificates", None).await;
    let (_, list_b) = c.send("team-b", Method::GET, "/certificates", None).await;
    assert_eq!(list_a["value"].as_array().unwrap().len(), 1);
    assert_eq!(list_b["value"].as_array().unwrap().len(), 1);
    assert_ne!(list_a["value"][0]["x5t"], list_b["value"][0]["x5t"]);
    assert_eq!(
        list_a["value"][0]["id"],
        format!("{}/certificates/shared", c.base("team-a"))
    );

    // Contacts and issuers are per vault too.
    let (status, _) = c
        .send(
            "team-a",
            Method::PUT,
            "/certificates/contacts",
            Some(json!({"contacts": [{"email": "a@example.com"}]})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = c
        .send("team-b", Method::GET, "/certificates/contacts", None)
        .await;
    assert_eq!(status, 404);
    let (status, _) = c
        .send(
            "team-a",
            Method::PUT,
            "/certificates/issuers/ca",
            Some(json!({"provider": "local-ca"})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = c
        .send("team-b", Method::GET, "/certificates/issuers/ca", None)
        .await;
    assert_eq!(status, 404);

    // Deleting in one vault leaves the other alone; a backup restores into another vault.
    let (_, blob) = c
        .send("team-a", Method::POST, "/certificates/shared/backup", None)
        .await;
    c.send("team-a", Method::DELETE, "/certificates/shared", None)
        .await;
    let (status, _) = c
        .send("team-b", Method::GET, "/certificates/shared/", None)
        .await;
    assert_eq!(status, 200);
    // ... and restores into another vault (here the default one, on the bare IP).
    let r = app
        .send(
            Method::POST,
            "/certificates/restore",
            Some(json!({"value": blob["value"]})),
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = app.get_certificate("shared").await;
    assert_eq!(r.status(), 200);
    app.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn the_api_versions_the_sdks_send_are_accepted_and_others_are_400() {
    let app = TestApp::spawn().await;
    for v in [
        "2026-04-01",
        "2025-07-01",
        "7.6",
        "7.5",
        "7.4",
        "7.3",
        "7.2",
        "7.1",
        "7.0",
        "2016-10-01",
    ] {
        let r = app
            .client
            .get(format!("{}/certificates?api-version={v}", app.address))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{v}");
    }
    let r = app
        .client
        .get(format!("{}/certificates?api-version=9.9", app.address))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["error"]["code"], "BadParameter");
    assert!(b["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("The specified version (9.9) is not recognized."));
}
