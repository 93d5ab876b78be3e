//! Several vaults on one server, named by the host the SDK client calls: each vault sees only
//! its own certificates and issuers, and ids carry the host that was called.

use azure_security_keyvault_certificates::models::SetIssuerParameters;
use azure_security_keyvault_certificates::ResourceExt;
use futures_util::TryStreamExt;

use crate::helpers::*;

#[tokio::test]
async fn host_named_vaults_are_isolated_through_the_sdk() {
    let v = Vault::spawn().await;
    let (url_a, team_a) = v.client_for_host("team-a.vault.localhost");
    let (url_b, team_b) = v.client_for_host("team-b.vault.localhost");

    let params = azure_security_keyvault_certificates::models::CreateCertificateParameters {
        certificate_policy: Some(policy("Self", "shared.example.com")),
        ..Default::default()
    };
    let cert = team_a
        .begin_create_certificate("shared", params.try_into().unwrap(), Some(poll_fast()))
        .unwrap()
        .await
        .unwrap()
        .into_model()
        .unwrap();
    let id = cert.resource_id().unwrap();
    assert_eq!(id.vault_url, url_a);
    assert_eq!(id.name, "shared");

    let e = team_b.get_certificate("shared", None).await.unwrap_err();
    assert_eq!(status(&e), 404);
    let e = v.client.get_certificate("shared", None).await.unwrap_err();
    assert_eq!(
        status(&e),
        404,
        "the default vault (bare IP) is another vault"
    );

    let body = SetIssuerParameters {
        provider: Some("local-ca".into()),
        ..Default::default()
    };
    let issuer = team_b
        .set_issuer("only-b", body.try_into().unwrap(), None)
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(
        issuer.id,
        Some(format!("{url_b}/certificates/issuers/only-b"))
    );
    let in_a: Vec<_> = team_a
        .list_issuer_properties(None)
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert!(in_a.is_empty());
    let in_b: Vec<_> = team_b
        .list_certificate_properties(None)
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert!(in_b.is_empty());
    v.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn the_sdk_challenge_resource_check_can_stay_on_with_a_vault_localhost_resource() {
    let v = Vault::spawn_with(|s| s.auth.resource = "https://vault.localhost".into()).await;
    let (url, checked) = v.client_for_host_checking("team-a.vault.localhost", true);
    let cert = checked
        .begin_create_certificate(
            "checked",
            azure_security_keyvault_certificates::models::CreateCertificateParameters {
                certificate_policy: Some(policy("Self", "checked.example.com")),
                ..Default::default()
            }
            .try_into()
            .unwrap(),
            Some(poll_fast()),
        )
        .unwrap()
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(cert.resource_id().unwrap().vault_url, url);

    // The default resource (vault.azure.net) does not cover the host: the SDK refuses to send
    // the token, before any authorized request.
    let other = Vault::spawn().await;
    let (_, refused) = other.client_for_host_checking("team-a.vault.localhost", true);
    let e = refused.get_certificate("checked", None).await.unwrap_err();
    assert!(e.http_status().is_none(), "{e:?}");
    assert!(
        format!("{e:?}").contains("doesn't match the requested domain"),
        "{e:?}"
    );
}
