//! Behaviours real Key Vault clients rely on: a certificate readable while its first version
//! is pending, the merge forms Key Vault accepts, `preserveCertOrder`, Key Vault's issuer
//! providers, and recovering a certificate that has no version yet.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::kv_certificates::get;

async fn send(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    crate::kv_certificates::send(app, method, path, body).await
}

#[tokio::test]
async fn a_certificate_whose_first_version_is_pending_reads_as_a_disabled_bundle() {
    let app = TestApp::spawn().await;
    app.create_manual("early").await;
    for path in ["/certificates/early/", "/certificates/early"] {
        let (status, b) = get(&app, path).await;
        assert_eq!(status, 200, "{path}: {b}");
        assert_eq!(b["id"], format!("{}/certificates/early", app.address));
        assert_eq!(b["attributes"]["enabled"], false);
        assert_eq!(
            b["pending"]["id"],
            format!("{}/certificates/early/pending", app.address)
        );
        assert_eq!(b["policy"]["x509_props"]["subject"], "CN=early.example.com");
        assert_eq!(b["policy"]["issuer"]["name"], "Unknown");
        for absent in ["cer", "x5t", "kid", "sid"] {
            assert!(b.get(absent).is_none(), "{path}: {absent} in {b}");
        }
    }
    // Listed with includePending as GET shows it; without, not at all.
    let (_, page) = get(&app, "/certificates?includePending=true").await;
    let item = &page["value"][0];
    assert_eq!(item["id"], format!("{}/certificates/early", app.address));
    assert_eq!(item["attributes"]["enabled"], false);
    assert!(item.get("x5t").is_none(), "{item}");
    let (_, page) = get(&app, "/certificates").await;
    assert_eq!(page["value"], json!([]));
    // No version of it exists yet.
    let (status, versions) = get(&app, "/certificates/early/versions").await;
    assert_eq!(status, 200);
    assert_eq!(versions["value"], json!([]));
    let (status, err) = get(&app, &format!("/certificates/early/{}", "0".repeat(32))).await;
    assert_eq!(status, 404);
    assert_eq!(err["error"]["code"], "CertificateNotFound");
    // After the pending object is deleted: still there, without `pending`.
    let (status, _) = send(&app, Method::DELETE, "/certificates/early/pending", None).await;
    assert_eq!(status, 200);
    let (status, b) = get(&app, "/certificates/early/").await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["attributes"]["enabled"], false);
    assert!(b.get("pending").is_none(), "{b}");
    assert!(b.get("cer").is_none(), "{b}");
    // A name never used is still not found.
    let (status, err) = get(&app, "/certificates/never/").await;
    assert_eq!(status, 404);
    assert_eq!(err["error"]["code"], "CertificateNotFound");
    app.assert_views_rebuild_identically().await;
}
