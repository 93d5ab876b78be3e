//! CertificateClient issuer operations: set, get, update, list (paged), delete; a create that
//! names an issuer object backed by the server's own CA, through the poller.

use azure_security_keyvault_certificates::models::{
    CertificateClientListIssuerPropertiesOptions, IssuerAttributes, SetIssuerParameters,
    UpdateIssuerParameters,
};
use futures_util::TryStreamExt;

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
