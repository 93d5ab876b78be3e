//! CertificateClient: the create poller (Self, Unknown), get, get a version, the pending
//! operation (get, cancel, delete), merge; the challenge handshake and api-versions.

use std::collections::HashMap;

use azure_security_keyvault_certificates::models::{
    CertificateClientGetCertificateOptions, CreateCertificateParameters,
    MergeCertificateParameters, UpdateCertificateOperationParameter,
};
use azure_security_keyvault_certificates::ResourceExt;
use futures_util::StreamExt;

use crate::helpers::*;

#[tokio::test]
async fn create_with_self_issuer_through_the_poller_returns_the_certificate() {
    let v = Vault::spawn().await;
    let tags = HashMap::from([("team".to_string(), "a".to_string())]);
    let cert = v
        .create_with("web", policy("Self", "web.example.com"), Some(tags.clone()))
        .await;
    let id = cert.resource_id().unwrap();
    assert_eq!(id.name, "web");
    assert_eq!(id.vault_url, v.url);
    let version = id.version.unwrap();
    assert_eq!(
        cert.id.as_deref(),
        Some(format!("{}/certificates/web/{version}", v.url).as_str())
    );
    let cer = cert.cer.clone().unwrap();
    assert_eq!(cn_of(&cer), "web.example.com");
    assert_eq!(cert.x509_thumbprint.as_deref(), Some(sha1(&cer).as_slice()));
    assert_eq!(cert.tags, Some(tags));
    let attrs = cert.attributes.unwrap();
    assert_eq!(attrs.enabled, Some(true));
    assert!(attrs.created.is_some() && attrs.expires.is_some());
    assert_eq!(cert.sid, Some(format!("{}/secrets/web/{version}", v.url)));
    assert_eq!(cert.kid, Some(format!("{}/keys/web/{version}", v.url)));
    let pol = cert.policy.unwrap();
    assert_eq!(pol.issuer_parameters.unwrap().name.as_deref(), Some("Self"));
    v.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn create_with_unknown_issuer_yields_an_operation_in_progress_with_a_csr() {
    let v = Vault::spawn().await;
    let params = CreateCertificateParameters {
        certificate_policy: Some(policy("Unknown", "manual.example.com")),
        ..Default::default()
    };
    let mut poller = v
        .client
        .begin_create_certificate("manual", params.try_into().unwrap(), Some(poll_fast()))
        .unwrap();
    // Used as a stream, the poller yields each operation; the first is the create's answer.
    let op = poller.next().await.unwrap().unwrap().into_model().unwrap();
    drop(poller);
    assert_eq!(op.status.as_deref(), Some("inProgress"));
    assert_eq!(op.cancellation_requested, Some(false));
    assert_eq!(
        op.id.as_deref(),
        Some(format!("{}/certificates/manual/pending", v.url).as_str())
    );
    let csr = openssl::x509::X509Req::from_der(&op.csr.unwrap()).unwrap();
    assert!(csr.verify(&csr.public_key().unwrap()).unwrap());
    let read = v
        .client
        .get_certificate_operation("manual", None)
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(read.status.as_deref(), Some("inProgress"));
    assert_eq!(read.request_id, op.request_id);
    v.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn get_certificate_latest_and_by_version() {
    let v = Vault::spawn().await;
    let created = v.create("api", policy("Self", "api.example.com")).await;
    let version = created.resource_id().unwrap().version.unwrap();
    let latest = v
        .client
        .get_certificate("api", None)
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(latest.id, created.id);
    assert_eq!(latest.cer, created.cer);
    let by_version = v
        .client
        .get_certificate(
            "api",
            Some(CertificateClientGetCertificateOptions {
                certificate_version: Some(version),
                ..Default::default()
            }),
        )
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(by_version.id, created.id);
    assert_eq!(by_version.cer, created.cer);
}

#[tokio::test]
async fn get_certificate_of_an_unknown_name_is_404_certificate_not_found() {
    let v = Vault::spawn().await;
    let e = v.client.get_certificate("nope", None).await.unwrap_err();
    assert_eq!(status(&e), 404);
    assert_eq!(error_code(&e).as_deref(), Some("CertificateNotFound"));
}

#[tokio::test]
async fn operation_of_a_completed_create_names_its_target() {
    let v = Vault::spawn().await;
    v.create("done", policy("Self", "done.example.com")).await;
    let op = v
        .client
        .get_certificate_operation("done", None)
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(op.status.as_deref(), Some("completed"));
    assert_eq!(
        op.target.as_deref(),
        Some(format!("{}/certificates/done", v.url).as_str())
    );
}

async fn create_manual(v: &Vault, name: &str) -> Vec<u8> {
    let params = CreateCertificateParameters {
        certificate_policy: Some(policy("Unknown", &format!("{name}.example.com"))),
        ..Default::default()
    };
    let mut poller = v
        .client
        .begin_create_certificate(name, params.try_into().unwrap(), Some(poll_fast()))
        .unwrap();
    let op = poller.next().await.unwrap().unwrap().into_model().unwrap();
    op.csr.unwrap()
}

#[tokio::test]
async fn update_certificate_operation_requests_cancellation() {
    let v = Vault::spawn().await;
    create_manual(&v, "stop").await;
    let body = UpdateCertificateOperationParameter {
        cancellation_requested: Some(true),
    };
    let op = v
        .client
        .update_certificate_operation("stop", body.try_into().unwrap(), None)
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(op.cancellation_requested, Some(true));
    v.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn delete_certificate_operation_removes_it() {
    let v = Vault::spawn().await;
    create_manual(&v, "gone").await;
    let op = v
        .client
        .delete_certificate_operation("gone", None)
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(op.status.as_deref(), Some("inProgress"));
    let e = v
        .client
        .get_certificate_operation("gone", None)
        .await
        .unwrap_err();
    assert_eq!(status(&e), 404);
    v.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn merge_certificate_signed_elsewhere_returns_201_and_the_certificate() {
    let v = Vault::spawn().await;
    let csr = create_manual(&v, "merged").await;
    let ca_key = ec_key();
    let ca = certificate("Outside CA", &ca_key, None, true);
    let leaf = sign_csr(&csr, &ca, &ca_key);
    let leaf_der = leaf.to_der().unwrap();
    let body = MergeCertificateParameters {
        x509_certificates: Some(vec![leaf_der.clone(), ca.to_der().unwrap()]),
        ..Default::default()
    };
    let merged = v
        .client
        .merge_certificate("merged", body.try_into().unwrap(), None)
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(merged.cer.as_deref(), Some(leaf_der.as_slice()));
    assert_eq!(merged.resource_id().unwrap().name, "merged");
    let op = v
        .client
        .get_certificate_operation("merged", None)
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(op.status.as_deref(), Some("completed"));
    v.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn merge_of_a_certificate_for_another_key_is_400_and_changes_nothing() {
    let v = Vault::spawn().await;
    create_manual(&v, "wrongkey").await;
    let other = certificate("wrongkey.example.com", &ec_key(), None, false);
    let body = MergeCertificateParameters {
        x509_certificates: Some(vec![other.to_der().unwrap()]),
        ..Default::default()
    };
    let e = v
        .client
        .merge_certificate("wrongkey", body.try_into().unwrap(), None)
        .await
        .unwrap_err();
    assert_eq!(status(&e), 400);
    let op = v
        .client
        .get_certificate_operation("wrongkey", None)
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(op.status.as_deref(), Some("inProgress"));
}

#[tokio::test]
async fn a_wrong_token_is_401_after_the_challenge() {
    let v = Vault::spawn().await;
    let bad = v.client_with("not-the-token", None);
    let e = bad.get_certificate("any", None).await.unwrap_err();
    assert_eq!(status(&e), 401);
}

#[tokio::test]
async fn every_api_version_the_sdk_can_be_set_to_is_accepted() {
    let v = Vault::spawn().await;
    for (i, api) in [
        "2025-07-01",
        "2026-04-01",
        "7.6",
        "7.5",
        "7.4",
        "7.3",
        "7.2",
        "7.1",
        "7.0",
        "2016-10-01",
    ]
    .iter()
    .enumerate()
    {
        let c = v.client_with(TOKEN, Some(api));
        let name = format!("api{i}");
        let params = CreateCertificateParameters {
            certificate_policy: Some(policy("Self", &format!("{name}.example.com"))),
            ..Default::default()
        };
        let cert = c
            .begin_create_certificate(&name, params.try_into().unwrap(), Some(poll_fast()))
            .unwrap()
            .await
            .unwrap_or_else(|e| panic!("api-version {api}: {e:?}"))
            .into_model()
            .unwrap();
        assert_eq!(cert.resource_id().unwrap().name, name, "api-version {api}");
    }
}

#[tokio::test]
async fn an_unknown_api_version_is_400() {
    let v = Vault::spawn().await;
    let c = v.client_with(TOKEN, Some("1999-01-01"));
    let e = c.get_certificate("any", None).await.unwrap_err();
    assert_eq!(status(&e), 400);
}
