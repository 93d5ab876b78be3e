//! `azure_identity`'s `ManagedIdentityCredential` (App Service source: `IDENTITY_ENDPOINT` and
//! `IDENTITY_HEADER`) against certbroker's plain-HTTP managed-identity listener, and the
//! certificate client using the tokens it gets.

use std::sync::Arc;

use azure_core::credentials::TokenCredential;
use azure_identity::{ManagedIdentityCredential, ManagedIdentityCredentialOptions};
use azure_security_keyvault_certificates::{CertificateClient, CertificateClientOptions};

use crate::helpers::{client_options, policy, poll_fast, Vault, TOKEN};

#[tokio::test]
async fn managed_identity_credential_gets_tokens_the_vault_accepts() {
    let vault = Vault::spawn_with(|s| s.identity.http_listen = "127.0.0.1:0".into()).await;
    let port = vault.identity_port.unwrap();
    // The only test of this binary that reads these variables.
    std::env::set_var(
        "IDENTITY_ENDPOINT",
        format!("http://127.0.0.1:{port}/msi/token"),
    );
    std::env::set_var("IDENTITY_HEADER", TOKEN);
    let credential = ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
        client_options: client_options(&vault.trust_pem),
        ..Default::default()
    }))
    .unwrap();
    let token = credential
        .get_token(&["https://vault.azure.net/.default"], None)
        .await
        .unwrap();
    let lifetime = token.expires_on - azure_core::time::OffsetDateTime::now_utc();
    assert!(
        lifetime > azure_core::time::Duration::minutes(50),
        "{lifetime}"
    );
    assert_eq!(token.token.secret().matches('.').count(), 2, "a JWT");

    let client = CertificateClient::new(
        &vault.url,
        credential as Arc<dyn TokenCredential>,
        Some(CertificateClientOptions {
            verify_challenge_resource: Some(false),
            client_options: client_options(&vault.trust_pem),
            ..Default::default()
        }),
    )
    .unwrap();
    let params = azure_security_keyvault_certificates::models::CreateCertificateParameters {
        certificate_policy: Some(policy("Self", "mi-rust")),
        ..Default::default()
    };
    let cert = client
        .begin_create_certificate("mi-rust", params.try_into().unwrap(), Some(poll_fast()))
        .unwrap()
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert!(cert.cer.is_some());
    let got = client
        .get_certificate("mi-rust", None)
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(got.id, cert.id);
}
