//! `Vault`: one real server per test, and SDK clients pointed at it with a static token.

use std::future::Future;

use futures_util::FutureExt;
use std::path::PathBuf;
use std::sync::Arc;

use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use azure_core::http::{ClientOptions, RetryOptions, Transport};
use azure_core::time::{Duration, OffsetDateTime};
use azure_security_keyvault_certificates::models::{
    Certificate, CertificateClientCreateCertificateOptions, CertificatePolicy,
    CreateCertificateParameters, IssuerParameters, KeyProperties, KeyType, SecretProperties,
    SubjectAlternativeNames, X509CertificateProperties,
};
use azure_security_keyvault_certificates::{CertificateClient, CertificateClientOptions};
use azure_security_keyvault_secrets::{SecretClient, SecretClientOptions};
use certbroker::config::Settings;
use certbroker::startup::Application;
use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{BasicConstraints, SubjectAlternativeName};
use openssl::x509::{X509Name, X509Req, X509};

#[path = "../common/storage.rs"]
#[allow(dead_code)]
mod storage;

pub const TOKEN: &str = "test-token";

/// The smallest `TokenCredential`: one fixed token, valid for an hour.
#[derive(Debug)]
pub struct StaticToken(pub String);

#[async_trait::async_trait]
impl TokenCredential for StaticToken {
    async fn get_token(
        &self,
        _scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        Ok(AccessToken::new(
            self.0.clone(),
            OffsetDateTime::now_utc() + Duration::hours(1),
        ))
    }
}

pub struct Vault {
    pub url: String,
    /// The plain-HTTP managed-identity listener's port, when configured.
    pub identity_port: Option<u16>,
    pub client: CertificateClient,
    pub secrets: SecretClient,
    data_dir: PathBuf,
    /// `storage.url`: empty for SQLite.
    storage_url: String,
    pub trust_pem: String,
    _dir: tempfile::TempDir,
}

impl Vault {
    /// The real server, with its background worker on (issuer-backed creates complete by
    /// themselves, as for a user of the SDK).
    pub async fn spawn() -> Vault {
        Self::spawn_with(|_| {}).await
    }

    /// The same, with settings changed first.
    pub async fn spawn_with(tweak: impl FnOnce(&mut Settings)) -> Vault {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings::for_test(dir.path());
        settings.worker.enabled = true;
        settings.storage.url = certbroker::config::Secret::new(storage::fresh_storage_url().await);
        tweak(&mut settings);
        let data_dir = settings.storage.data_dir.clone();
        let storage_url = settings.storage.url.expose().clone();
        let app = Application::build(settings).await.unwrap();
        let url = format!("https://127.0.0.1:{}", app.port());
        let identity_port = app.identity_port();
        let trust_pem = app.trust_pem.clone();
        tokio::spawn(app.run_until_stopped());
        let client = certificate_client(&url, &trust_pem, TOKEN, None);
        let secrets = SecretClient::new(
            &url,
            Arc::new(StaticToken(TOKEN.into())),
            Some(SecretClientOptions {
                verify_challenge_resource: Some(false),
                client_options: client_options(&trust_pem),
                ..Default::default()
            }),
        )
        .unwrap();
        Vault {
            url,
            identity_port,
            client,
            secrets,
            data_dir,
            storage_url,
            trust_pem,
            _dir: dir,
        }
    }

    /// Another certificate client: another token, or another api-version.
    pub fn client_with(&self, token: &str, api_version: Option<&str>) -> CertificateClient {
        certificate_client(&self.url, &self.trust_pem, token, api_version)
    }

    /// Creates a certificate through the SDK's poller and returns what `.await` gives.
    pub async fn create(&self, name: &str, policy: CertificatePolicy) -> Certificate {
        self.create_with(name, policy, None).await
    }

    pub async fn create_with(
        &self,
        name: &str,
        policy: CertificatePolicy,
        tags: Option<std::collections::HashMap<String, String>>,
    ) -> Certificate {
        let params = CreateCertificateParameters {
            certificate_policy: Some(policy),
            tags,
            ..Default::default()
        };
        self.client
            .begin_create_certificate(name, params.try_into().unwrap(), Some(poll_fast()))
            .unwrap()
            .await
            .unwrap()
            .into_model()
            .unwrap()
    }

    /// Dumps every view, rebuilds from the events in a rolled-back transaction, and asserts
    /// the rebuilt views equal the live ones.
    pub async fn assert_views_rebuild_identically(&self) {
        let mut settings = Settings::for_test(&self.data_dir);
        settings.storage.url = certbroker::config::Secret::new(self.storage_url.clone());
        let (_storage, mut conn) = certbroker::startup::open_tool_database(&settings)
            .await
            .unwrap();
        let report = certbroker::projections::rebuild_command(&mut conn, true)
            .await
            .unwrap();
        assert!(report.events > 0);
        assert!(
            report.differences.is_empty(),
            "views differ after rebuild:\n{}",
            report.differences.join("\n")
        );
    }

    /// A certificate client for `https://<host>:<port>`, with `host` resolved to the server
    /// (host-named vaults).
    pub fn client_for_host(&self, host: &str) -> (String, CertificateClient) {
        self.client_for_host_checking(host, false)
    }

    /// The same, choosing whether the SDK checks the challenge's resource against the host.
    pub fn client_for_host_checking(
        &self,
        host: &str,
        verify_challenge_resource: bool,
    ) -> (String, CertificateClient) {
        let port: u16 = self.url.rsplit(':').next().unwrap().parse().unwrap();
        let url = format!("https://{host}:{port}");
        let resolve = Some((host, format!("127.0.0.1:{port}").parse().unwrap()));
        let client = CertificateClient::new(
            &url,
            Arc::new(StaticToken(TOKEN.into())),
            Some(CertificateClientOptions {
                verify_challenge_resource: Some(verify_challenge_resource),
                client_options: client_options_resolving(&self.trust_pem, resolve),
                ..Default::default()
            }),
        )
        .unwrap();
        (url, client)
    }
}

/// Client options whose transport trusts `trust_pem` only, with no retries.
pub fn client_options(trust_pem: &str) -> ClientOptions {
    client_options_resolving(trust_pem, None)
}

fn client_options_resolving(
    trust_pem: &str,
    resolve: Option<(&str, std::net::SocketAddr)>,
) -> ClientOptions {
    let mut builder = reqwest013::Client::builder()
        .tls_certs_only([reqwest013::Certificate::from_pem(trust_pem.as_bytes()).unwrap()]);
    if let Some((host, addr)) = resolve {
        builder = builder.resolve(host, addr);
    }
    let http = builder.build().unwrap();
    ClientOptions {
        transport: Some(Transport::new(Arc::new(http))),
        // A refusal must surface at once, not after a minute of retries.
        retry: RetryOptions::none(),
        ..Default::default()
    }
}

fn certificate_client(
    url: &str,
    trust_pem: &str,
    token: &str,
    api_version: Option<&str>,
) -> CertificateClient {
    let mut options = CertificateClientOptions {
        // 127.0.0.1 can never end with ".vault.azure.net".
        verify_challenge_resource: Some(false),
        client_options: client_options(trust_pem),
        ..Default::default()
    };
    if let Some(v) = api_version {
        options.api_version = v.into();
    }
    CertificateClient::new(url, Arc::new(StaticToken(token.into())), Some(options)).unwrap()
}

/// The create poller at its smallest interval (the server also sends `Retry-After`).
pub fn poll_fast() -> CertificateClientCreateCertificateOptions<'static> {
    CertificateClientCreateCertificateOptions {
        method_options: azure_core::http::poller::PollerOptions {
            frequency: Duration::seconds(1),
            ..Default::default()
        },
    }
}

/// A policy: EC P-256 (server default), `CN=<cn>` with the DNS name `<cn>`.
pub fn policy(issuer: &str, cn: &str) -> CertificatePolicy {
    CertificatePolicy {
        issuer_parameters: Some(IssuerParameters {
            name: Some(issuer.into()),
            ..Default::default()
        }),
        key_properties: Some(KeyProperties {
            key_type: Some(KeyType::Ec),
            exportable: Some(true),
            ..Default::default()
        }),
        secret_properties: Some(SecretProperties {
            content_type: Some("application/x-pkcs12".into()),
        }),
        x509_certificate_properties: Some(X509CertificateProperties {
            subject: Some(format!("CN={cn}")),
            subject_alternative_names: Some(SubjectAlternativeNames {
                dns_names: Some(vec![cn.into()]),
                ..Default::default()
            }),
            validity_in_months: Some(12),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The HTTP status of an SDK error.
pub fn status(e: &azure_core::Error) -> u16 {
    e.http_status()
        .map(u16::from)
        .unwrap_or_else(|| panic!("not an HTTP error: {e:?}"))
}

/// The Key Vault error code of an SDK error.
pub fn error_code(e: &azure_core::Error) -> Option<String> {
    match e.kind() {
        azure_core::error::ErrorKind::HttpResponse { error_code, .. } => error_code.clone(),
        _ => None,
    }
}

/// A test of an operation the server does not answer yet (none at present; kept for the next
/// operation written before its endpoint). It must fail (panic); if it
/// passes, this panics instead: the endpoint has landed and the wrapper must go.
#[allow(dead_code)]
pub async fn missing<F>(endpoint: &str, body: F)
where
    F: Future<Output = ()>,
{
    match std::panic::AssertUnwindSafe(body).catch_unwind().await {
        Err(_) => eprintln!("expected failure (server lacks {endpoint})"),
        Ok(()) => panic!(
            "unexpectedly passed: the server now has {endpoint}; remove the `missing` wrapper"
        ),
    }
}

/// The common name in a DER certificate's subject.
pub fn cn_of(der: &[u8]) -> String {
    let cert = X509::from_der(der).unwrap();
    let cn = cert
        .subject_name()
        .entries_by_nid(Nid::COMMONNAME)
        .next()
        .unwrap()
        .data()
        .as_slice()
        .to_vec();
    String::from_utf8(cn).unwrap()
}

/// A P-256 key made now, with real OpenSSL.
pub fn ec_key() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
}

fn serial() -> openssl::asn1::Asn1Integer {
    let mut bn = BigNum::new().unwrap();
    bn.rand(120, MsbOption::MAYBE_ZERO, false).unwrap();
    bn.to_asn1_integer().unwrap()
}

fn name(cn: &str) -> X509Name {
    let mut b = X509Name::builder().unwrap();
    b.append_entry_by_nid(Nid::COMMONNAME, cn).unwrap();
    b.build()
}

/// A certificate for `key`, signed by `issuer` (or self-signed), valid from a minute ago.
pub fn certificate(
    cn: &str,
    key: &PKey<Private>,
    issuer: Option<(&X509, &PKey<Private>)>,
    ca: bool,
) -> X509 {
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&serial()).unwrap();
    b.set_subject_name(&name(cn)).unwrap();
    match issuer {
        Some((c, _)) => b.set_issuer_name(c.subject_name()).unwrap(),
        None => b.set_issuer_name(&name(cn)).unwrap(),
    }
    b.set_pubkey(key).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    b.set_not_before(&Asn1Time::from_unix(now - 60).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::from_unix(now + 30 * 86400).unwrap())
        .unwrap();
    if ca {
        b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
            .unwrap();
    } else {
        let san = SubjectAlternativeName::new()
            .dns(cn)
            .build(&b.x509v3_context(issuer.map(|(c, _)| &**c), None))
            .unwrap();
        b.append_extension(san).unwrap();
    }
    let signer = issuer.map(|(_, k)| k).unwrap_or(key);
    b.sign(signer, MessageDigest::sha256()).unwrap();
    b.build()
}

/// Signs a pending request's CSR (DER) as an outside CA would.
pub fn sign_csr(csr_der: &[u8], ca: &X509, ca_key: &PKey<Private>) -> X509 {
    let req = X509Req::from_der(csr_der).unwrap();
    let public = req.public_key().unwrap();
    assert!(req.verify(&public).unwrap(), "CSR signature must verify");
    let cn = req
        .subject_name()
        .entries_by_nid(Nid::COMMONNAME)
        .next()
        .unwrap()
        .data()
        .as_slice()
        .to_vec();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&serial()).unwrap();
    b.set_subject_name(&name(&String::from_utf8(cn).unwrap()))
        .unwrap();
    b.set_issuer_name(ca.subject_name()).unwrap();
    b.set_pubkey(&public).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    b.set_not_before(&Asn1Time::from_unix(now - 60).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::from_unix(now + 30 * 86400).unwrap())
        .unwrap();
    b.sign(ca_key, MessageDigest::sha256()).unwrap();
    b.build()
}

/// SHA-1 of DER (Key Vault's x5t).
pub fn sha1(der: &[u8]) -> Vec<u8> {
    openssl::sha::sha1(der).to_vec()
}
