//! CertificateClient beyond create/merge: lists and paging, versions, properties, policy,
//! soft delete / recover / purge, import (PKCS#12 and PEM), contacts, backup/restore; and
//! SecretClient::get_secret for certificate-backed secrets.

use std::collections::HashMap;

use azure_core::base64;
use azure_security_keyvault_certificates::models::{
    CertificateAttributes, CertificateClientGetCertificateOptions,
    CertificateClientListCertificatePropertiesOptions,
    CertificateClientUpdateCertificatePropertiesOptions, CertificatePolicy, Contact, Contacts,
    ImportCertificateParameters, KeyType, RestoreCertificateParameters, SecretProperties,
    UpdateCertificatePropertiesParameters, X509CertificateProperties,
};
use azure_security_keyvault_certificates::ResourceExt;
use futures_util::TryStreamExt;
use openssl::pkcs12::Pkcs12;

use crate::helpers::*;

#[tokio::test]
async fn list_certificate_properties_follows_next_links() {
    let v = Vault::spawn().await;
    for n in ["l-a", "l-b", "l-c"] {
        v.create(n, policy("Self", &format!("{n}.example.com")))
            .await;
    }
    let pages: Vec<_> = v
        .client
        .list_certificate_properties(Some(CertificateClientListCertificatePropertiesOptions {
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
            assert!(item.x509_thumbprint.is_some());
            assert_eq!(item.resource_id().unwrap().version, None);
            names.push(item.resource_id().unwrap().name);
        }
    }
    names.sort();
    assert_eq!(names, ["l-a", "l-b", "l-c"]);
    v.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn list_versions_and_get_the_older_one() {
    let v = Vault::spawn().await;
    let first = v.create("ver", policy("Self", "ver.example.com")).await;
    let second = v.create("ver", policy("Self", "ver.example.com")).await;
    let v1 = first.resource_id().unwrap().version.unwrap();
    let v2 = second.resource_id().unwrap().version.unwrap();
    assert_ne!(v1, v2);
    let mut versions: Vec<String> = v
        .client
        .list_certificate_properties_versions("ver", None)
        .unwrap()
        .try_collect::<Vec<_>>()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.resource_id().unwrap().version.unwrap())
        .collect();
    versions.sort();
    let mut want = vec![v1.clone(), v2];
    want.sort();
    assert_eq!(versions, want);
    let old = v
        .client
        .get_certificate(
            "ver",
            Some(CertificateClientGetCertificateOptions {
                certificate_version: Some(v1),
                ..Default::default()
            }),
        )
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(old.cer, first.cer);
    v.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn update_certificate_properties_changes_enabled_and_tags() {
    let v = Vault::spawn().await;
    let cert = v.create("upd", policy("Self", "upd.example.com")).await;
    let version = cert.resource_id().unwrap().version.unwrap();
    let tags = HashMap::from([("owner".to_string(), "ops".to_string())]);
    let body = UpdateCertificatePropertiesParameters {
        certificate_attributes: Some(CertificateAttributes {
            enabled: Some(false),
            ..Default::default()
        }),
        tags: Some(tags.clone()),
        ..Default::default()
    };
    let updated = v
        .client
        .update_certificate_properties("upd", body.try_into().unwrap(), None)
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(updated.attributes.unwrap().enabled, Some(false));
    assert_eq!(updated.tags, Some(tags.clone()));
    let body = UpdateCertificatePropertiesParameters {
        certificate_attributes: Some(CertificateAttributes {
            enabled: Some(true),
            ..Default::default()
        }),
        ..Default::default()
    };
    let by_version = v
        .client
        .update_certificate_properties(
            "upd",
            body.try_into().unwrap(),
            Some(CertificateClientUpdateCertificatePropertiesOptions {
                certificate_version: Some(version),
                ..Default::default()
            }),
        )
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(by_version.attributes.unwrap().enabled, Some(true));
    assert_eq!(by_version.tags, Some(tags));
    v.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn get_and_update_certificate_policy() {
    let v = Vault::spawn().await;
    v.create("pol", policy("Self", "pol.example.com")).await;
    let got = v
        .client
        .get_certificate_policy("pol", None)
        .await
        .unwrap()
        .into_model()
        .unwrap();
    let x509 = got.x509_certificate_properties.unwrap();
    assert_eq!(x509.subject.as_deref(), Some("CN=pol.example.com"));
    assert_eq!(x509.validity_in_months, Some(12));
    assert_eq!(got.key_properties.unwrap().key_type, Some(KeyType::Ec));
    let patch = CertificatePolicy {
        x509_certificate_properties: Some(X509CertificateProperties {
            validity_in_months: Some(24),
            ..Default::default()
        }),
        ..Default::default()
    };
    let changed = v
        .client
        .update_certificate_policy("pol", patch.try_into().unwrap(), None)
        .await
        .unwrap()
        .into_model()
        .unwrap();
    let x509 = changed.x509_certificate_properties.unwrap();
    assert_eq!(x509.validity_in_months, Some(24));
    // PATCH semantics: what was not sent is kept.
    assert_eq!(x509.subject.as_deref(), Some("CN=pol.example.com"));
    assert_eq!(changed.key_properties.unwrap().key_type, Some(KeyType::Ec));
    v.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn delete_recover_delete_and_purge() {
    let v = Vault::spawn().await;
    let cert = v.create("del", policy("Self", "del.example.com")).await;
    let deleted = v
        .client
        .delete_certificate("del", None)
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(
        deleted.recovery_id,
        Some(format!("{}/deletedcertificates/del", v.url))
    );
    assert!(deleted.scheduled_purge_date.unwrap() > deleted.deleted_date.unwrap());
    assert_eq!(deleted.cer, cert.cer);
    assert_eq!(
        status(&v.client.get_certificate("del", None).await.unwrap_err()),
        404
    );
    let got = v
        .client
        .get_deleted_certificate("del", None)
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(got.recovery_id, deleted.recovery_id);
    let listed: Vec<_> = v
        .client
        .list_deleted_certificate_properties(None)
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].recovery_id, deleted.recovery_id);

    let recovered = v
        .client
        .recover_deleted_certificate("del", None)
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(recovered.cer, cert.cer);
    let again = v
        .client
        .get_certificate("del", None)
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(again.id, cert.id);

    v.client.delete_certificate("del", None).await.unwrap();
    v.client
        .purge_deleted_certificate("del", None)
        .await
        .unwrap();
    assert_eq!(
        status(
            &v.client
                .get_deleted_certificate("del", None)
                .await
                .unwrap_err()
        ),
        404
    );
    v.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn import_pkcs12_with_a_password_and_read_the_secret() {
    let v = Vault::spawn().await;
    let key = ec_key();
    let cert = certificate("imp.example.com", &key, None, false);
    let pfx = Pkcs12::builder()
        .name("imp")
        .pkey(&key)
        .cert(&cert)
        .build2("pfx-pass")
        .unwrap()
        .to_der()
        .unwrap();
    let body = ImportCertificateParameters {
        base64_encoded_certificate: Some(base64::encode(&pfx)),
        password: Some("pfx-pass".into()),
        ..Default::default()
    };
    let imported = v
        .client
        .import_certificate("imp", body.try_into().unwrap(), None)
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(imported.cer, Some(cert.to_der().unwrap()));
    let secret = v
        .secrets
        .get_secret("imp", None)
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(secret.content_type.as_deref(), Some("application/x-pkcs12"));
    let parsed = Pkcs12::from_der(&base64::decode(secret.value.unwrap()).unwrap())
        .unwrap()
        .parse2("")
        .unwrap();
    assert_eq!(
        parsed.pkey.unwrap().public_key_to_der().unwrap(),
        key.public_key_to_der().unwrap()
    );
    v.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn import_pem_and_read_it_back_as_pem() {
    let v = Vault::spawn().await;
    let key = ec_key();
    let cert = certificate("pem.example.com", &key, None, false);
    let mut pem = key.private_key_to_pem_pkcs8().unwrap();
    pem.extend(cert.to_pem().unwrap());
    let body = ImportCertificateParameters {
        base64_encoded_certificate: Some(String::from_utf8(pem).unwrap()),
        certificate_policy: Some(CertificatePolicy {
            secret_properties: Some(SecretProperties {
                content_type: Some("application/x-pem-file".into()),
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let imported = v
        .client
        .import_certificate("pem", body.try_into().unwrap(), None)
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(imported.cer, Some(cert.to_der().unwrap()));
    let secret = v
        .secrets
        .get_secret("pem", None)
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(
        secret.content_type.as_deref(),
        Some("application/x-pem-file")
    );
    let value = secret.value.unwrap();
    assert!(value.contains("-----BEGIN CERTIFICATE-----"));
    let got = openssl::pkey::PKey::private_key_from_pem(value.as_bytes()).unwrap();
    assert_eq!(
        got.public_key_to_der().unwrap(),
        key.public_key_to_der().unwrap()
    );
}

#[tokio::test]
async fn set_get_and_delete_contacts() {
    let v = Vault::spawn().await;
    let body = Contacts {
        contact_list: Some(vec![Contact {
            email: Some("ops@example.com".into()),
            name: Some("Ops".into()),
            phone: Some("555-0100".into()),
        }]),
        ..Default::default()
    };
    let set = v
        .client
        .set_contacts(body.try_into().unwrap(), None)
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(set.id, Some(format!("{}/certificates/contacts", v.url)));
    let got = v
        .client
        .get_contacts(None)
        .await
        .unwrap()
        .into_model()
        .unwrap();
    let list = got.contact_list.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].email.as_deref(), Some("ops@example.com"));
    let deleted = v
        .client
        .delete_contacts(None)
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(deleted.contact_list.unwrap().len(), 1);
    assert_eq!(status(&v.client.get_contacts(None).await.unwrap_err()), 404);
    v.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn backup_purge_and_restore() {
    let v = Vault::spawn().await;
    let cert = v.create("bak", policy("Self", "bak.example.com")).await;
    let blob = v
        .client
        .backup_certificate("bak", None)
        .await
        .unwrap()
        .into_model()
        .unwrap()
        .value
        .unwrap();
    let restore = |b: Vec<u8>| RestoreCertificateParameters {
        certificate_backup: Some(b),
    };
    let e = v
        .client
        .restore_certificate(restore(blob.clone()).try_into().unwrap(), None)
        .await
        .unwrap_err();
    assert_eq!(status(&e), 409);
    v.client.delete_certificate("bak", None).await.unwrap();
    v.client
        .purge_deleted_certificate("bak", None)
        .await
        .unwrap();
    let mut tampered = blob.clone();
    let mid = tampered.len() / 2;
    tampered[mid] ^= 1;
    let e = v
        .client
        .restore_certificate(restore(tampered).try_into().unwrap(), None)
        .await
        .unwrap_err();
    assert_eq!(status(&e), 400);
    let restored = v
        .client
        .restore_certificate(restore(blob).try_into().unwrap(), None)
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(restored.id, cert.id);
    assert_eq!(restored.cer, cert.cer);
    v.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn get_secret_of_a_created_certificate_holds_its_key() {
    let v = Vault::spawn().await;
    let cert = v.create("sec", policy("Self", "sec.example.com")).await;
    let secret = v
        .secrets
        .get_secret("sec", None)
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(secret.id, cert.sid);
    assert_eq!(secret.kid, cert.kid);
    assert_eq!(secret.managed, Some(true));
    assert_eq!(secret.content_type.as_deref(), Some("application/x-pkcs12"));
    let parsed = Pkcs12::from_der(&base64::decode(secret.value.unwrap()).unwrap())
        .unwrap()
        .parse2("")
        .unwrap();
    let leaf = parsed.cert.unwrap();
    assert_eq!(leaf.to_der().unwrap(), cert.cer.unwrap());
    assert_eq!(
        parsed.pkey.unwrap().public_key_to_der().unwrap(),
        leaf.public_key().unwrap().public_key_to_der().unwrap()
    );
}
