//! CertificateClient issuer operations: set, get, update, list (paged), delete; a create that
//! names an issuer object backed by the server's own CA, through the poller.

use azure_security_keyvault_certificates::models::{
    CertificateClientListIssuerPropertiesOptions, IssuerAttributes, SetIssuerParameters,
    UpdateIssuerParameters,
};
use futures_util::{StreamExt, TryStreamExt};

use crate::helpers::*;

const PROVIDER: &str = "local-ca";

/// The issuer name in an issuer id (`IssuerProperties` has no `ResourceExt`).
fn last_segment(id: Option<&str>) -> String {
    id.unwrap().rsplit('/').next().unwrap().to_string()
}

async fn set_issuer(v: &Vault, name: &str) {
    let body = SetIssuerParameters {
        provider: Some(PROVIDER.into()),
        attributes: Some(IssuerAttributes {
            enabled: Some(true),
            ..Default::default()
        }),
        ..Default::default()
    };
    let issuer = v
        .client
        .set_issuer(name, body.try_into().unwrap(), None)
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(
        issuer.id,
        Some(format!("{}/certificates/issuers/{name}", v.url))
    );
    assert_eq!(issuer.provider.as_deref(), Some(PROVIDER));
}

#[tokio::test]
async fn set_get_update_list_and_delete_an_issuer() {
    let v = Vault::spawn().await;
    set_issuer(&v, "internal").await;
    let got = v
        .client
        .get_issuer("internal", None)
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(got.provider.as_deref(), Some(PROVIDER));
    let attrs = got.attributes.unwrap();
    assert_eq!(attrs.enabled, Some(true));
    assert!(attrs.created.is_some());

    let body = UpdateIssuerParameters {
        attributes: Some(IssuerAttributes {
            enabled: Some(false),
            ..Default::default()
        }),
        ..Default::default()
    };
    let updated = v
        .client
        .update_issuer("internal", body.try_into().unwrap(), None)
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(updated.attributes.unwrap().enabled, Some(false));
    assert_eq!(updated.provider.as_deref(), Some(PROVIDER));

    let listed: Vec<_> = v
        .client
        .list_issuer_properties(None)
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(last_segment(listed[0].id.as_deref()), "internal");
    assert_eq!(listed[0].provider.as_deref(), Some(PROVIDER));

    let deleted = v
        .client
        .delete_issuer("internal", None)
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(deleted.provider.as_deref(), Some(PROVIDER));
    let e = v.client.get_issuer("internal", None).await.unwrap_err();
    assert_eq!(status(&e), 404);
    v.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn list_issuers_follows_next_links_page_by_page() {
    let v = Vault::spawn().await;
    for n in ["i-a", "i-b", "i-c"] {
        set_issuer(&v, n).await;
    }
    let pages: Vec<_> = v
        .client
        .list_issuer_properties(Some(CertificateClientListIssuerPropertiesOptions {
            maxresults: Some(2),
            ..Default::default()
        }))
        .unwrap()
        .into_pages()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pages.len(), 2);
    let mut names = Vec::new();
    for page in pages {
        for item in page.into_model().unwrap().value {
            names.push(last_segment(item.id.as_deref()));
        }
    }
    names.sort();
    assert_eq!(names, ["i-a", "i-b", "i-c"]);
}

#[tokio::test]
async fn create_naming_an_issuer_object_is_issued_by_the_local_ca() {
    let v = Vault::spawn().await;
    set_issuer(&v, "internal").await;
    let cert = v.create("svc", policy("internal", "svc.example.com")).await;
    let der = cert.cer.unwrap();
    assert_eq!(cn_of(&der), "svc.example.com");
    let x = openssl::x509::X509::from_der(&der).unwrap();
    assert_ne!(
        x.issuer_name().to_der().unwrap(),
        x.subject_name().to_der().unwrap()
    );
    v.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn a_refused_issuance_ends_the_create_poller_with_the_error() {
    let v = Vault::spawn().await;
    // `local-ca-restricted` (test settings) certifies only names under example.com.
    let body = SetIssuerParameters {
        provider: Some("local-ca-restricted".into()),
        ..Default::default()
    };
    v.client
        .set_issuer("restricted", body.try_into().unwrap(), None)
        .await
        .unwrap();
    let params = azure_security_keyvault_certificates::models::CreateCertificateParameters {
        certificate_policy: Some(policy("restricted", "web.other.org")),
        ..Default::default()
    };
    let poller = v
        .client
        .begin_create_certificate("refused", params.try_into().unwrap(), Some(poll_fast()))
        .unwrap();
    // As a stream the poller yields every operation it reads and ends on a final status. The
    // SDK sees a failure only when `error` is present (otherwise it would poll forever), so
    // the bound below turns that mistake into a failure instead of a hang.
    let ops: Vec<_> = poller.take(60).try_collect().await.unwrap();
    assert!(ops.len() < 60, "the poller never saw a final status");
    let last = ops.into_iter().last().unwrap().into_model().unwrap();
    assert_eq!(last.status.as_deref(), Some("failed"));
    let error = last.error.unwrap();
    assert!(error.code.is_some());
    assert!(error.message.unwrap().contains("web.other.org"));
    // Awaited, the same refusal is an error (the SDK does not keep the server's text).
    let params = azure_security_keyvault_certificates::models::CreateCertificateParameters {
        certificate_policy: Some(policy("restricted", "api.other.org")),
        ..Default::default()
    };
    let awaited = v
        .client
        .begin_create_certificate("refused2", params.try_into().unwrap(), Some(poll_fast()))
        .unwrap()
        .await;
    assert!(awaited.is_err());
    // The certificate answers as Key Vault does before any version exists.
    let refused = v
        .client
        .get_certificate("refused", None)
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(refused.attributes.unwrap().enabled, Some(false));
    assert!(refused.cer.is_none());
    v.assert_views_rebuild_identically().await;
}
