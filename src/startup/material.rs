//! What the server is made of besides the database: its TLS certificate (from a persistent
//! TLS CA, or the configured files), the token issuer for unchanged Azure clients, the
//! challenge's authorization URI, and the configured and dev tokens.

use super::*;

/// The TLS material the server presents.
pub struct TlsMaterial {
    pub key: PKey<Private>,
    pub cert: X509,
    pub chain: Vec<X509>,
    /// PEM of what clients should trust (the generated TLS CA, or the configured chain).
    pub trust_pem: String,
}

pub(super) fn tls_material(
    settings: &Settings,
    keys: &KeyStore,
    now: i64,
) -> anyhow::Result<TlsMaterial> {
    if !settings.tls.cert_file.is_empty() {
        let pem = std::fs::read(&settings.tls.cert_file)
            .with_context(|| format!("reading tls.cert_file {}", settings.tls.cert_file))?;
        let mut certs = X509::stack_from_pem(&pem).context("tls.cert_file is not PEM")?;
        if certs.is_empty() {
            anyhow::bail!("tls.cert_file holds no certificate");
        }
        let cert = certs.remove(0);
        let key = PKey::private_key_from_pem(
            &std::fs::read(&settings.tls.key_file)
                .with_context(|| format!("reading tls.key_file {}", settings.tls.key_file))?,
        )
        .context("tls.key_file is not a PEM private key")?;
        return Ok(TlsMaterial {
            key,
            cert,
            chain: certs,
            trust_pem: String::from_utf8_lossy(&pem).into_owned(),
        });
    }
    let dir = settings.storage.data_dir.join("tls");
    let ca_pem = dir.join("ca.pem");
    let ca_key_path = dir.join("ca.key.sealed");
    if !ca_pem.exists() {
        let (k, c) = crypto::x509::create_ca("certbroker TLS CA", now, 3650, None)?;
        let sealed = keys
            .seal("tls-ca", &crypto::keys::private_key_to_der(&k)?)
            .map_err(|e| anyhow::anyhow!("sealing the TLS CA key: {e}"))?;
        write_private_file(&ca_key_path, &sealed)?;
        write_private_file(&ca_pem, &c.to_pem()?)?;
    }
    let ca_cert = X509::from_pem(&std::fs::read(&ca_pem)?)?;
    let ca_key = crypto::keys::private_key_from_der(
        &keys
            .unseal("tls-ca", &std::fs::read(&ca_key_path)?)
            .map_err(|e| anyhow::anyhow!("unsealing the TLS CA key: {e}"))?,
    )?;
    let mut names = vec!["localhost".to_string(), "*.localhost".to_string()];
    names.extend(settings.tls.extra_names.iter().cloned());
    // Host-named vaults: OpenSSL-based clients refuse `*.localhost` (a wildcard needs two
    // labels after it), so listed vaults get their own name and any vault can use
    // `<name>.vault.localhost`.
    names.push("*.vault.localhost".to_string());
    names.extend(
        settings
            .vaults
            .names
            .iter()
            .map(|v| format!("{v}.localhost")),
    );
    let mut ips: Vec<IpAddr> = vec![IpAddr::from_str("127.0.0.1")?, IpAddr::from_str("::1")?];
    let listen_ip = settings.server.listen.ip();
    if !listen_ip.is_unspecified() && !ips.contains(&listen_ip) {
        ips.push(listen_ip);
    }
    // The server certificate is made anew at each start (cheap: EC), so configured names
    // apply at once; clients trust the persistent TLS CA.
    let (key, cert) = crypto::x509::tls_server_cert(&ca_key, &ca_cert, &names, &ips, now, 397)?;
    Ok(TlsMaterial {
        key,
        cert,
        chain: vec![ca_cert.clone()],
        trust_pem: String::from_utf8_lossy(&ca_cert.to_pem()?).into_owned(),
    })
}

/// The token issuer: its signing key (made at first start, sealed in
/// `<data_dir>/identity/signing-key.sealed`), the tenant id (configured, or made at first
/// start and kept in `<data_dir>/identity/tenant-id`) and the workload-identity issuers' keys.
pub(super) fn token_issuer(
    settings: &Settings,
    keys: &KeyStore,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<crate::service::identity::TokenIssuer> {
    use crate::domain::policy::{Curve, KeySpec};
    let dir = settings.storage.data_dir.join("identity");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let key_path = dir.join("signing-key.sealed");
    if !key_path.exists() {
        let key = crypto::keys::generate_key(&KeySpec::Ec { curve: Curve::P256 })?;
        let sealed = keys
            .seal("token-signing", &crypto::keys::private_key_to_der(&key)?)
            .map_err(|e| anyhow::anyhow!("sealing the token signing key: {e}"))?;
        write_private_file(&key_path, &sealed)?;
    }
    let key = crypto::keys::private_key_from_der(
        &keys
            .unseal("token-signing", &std::fs::read(&key_path)?)
            .map_err(|e| anyhow::anyhow!("unsealing the token signing key: {e}"))?,
    )?;
    let configured = settings.identity.tenant_id.trim();
    let tenant_id = if configured.is_empty() {
        let path = dir.join("tenant-id");
        if !path.exists() {
            write_private_file(
                &path,
                uuid::Uuid::new_v4().hyphenated().to_string().as_bytes(),
            )?;
        }
        std::fs::read_to_string(&path)?.trim().to_owned()
    } else {
        configured.to_owned()
    };
    uuid::Uuid::parse_str(&tenant_id)
        .with_context(|| format!("the tenant id '{tenant_id}' is not a GUID"))?;
    let mut federated = Vec::new();
    for f in &settings.identity.federated {
        f.role
            .parse::<http::roles::Role>()
            .map_err(|e| anyhow::anyhow!("identity.federated {}: {e}", f.name))?;
        let pem = std::fs::read(&f.key_file)
            .with_context(|| format!("reading identity.federated {} key_file", f.name))?;
        let key = crypto::jwt::public_key_from_pem(&pem)
            .with_context(|| format!("identity.federated {} key_file", f.name))?;
        federated.push((f.clone(), key));
    }
    Ok(crate::service::identity::TokenIssuer::new(
        key,
        tenant_id,
        &settings.identity,
        &settings.auth.resource,
        federated,
        clock,
    )?)
}

/// The authorization URI of the challenge: `auth.authorization_uri` with `{tenant}`
/// replaced by the tenant id (empty: Entra ID's, for the tenant).
pub(super) fn authorization_uri(settings: &Settings, tenant_id: &str) -> String {
    match settings.auth.authorization_uri.trim() {
        "" => format!("https://login.microsoftonline.com/{tenant_id}"),
        uri => uri.replace("{tenant}", tenant_id),
    }
}

/// A token's name and the SHA-256 of its value.
type NamedTokenHash = (String, [u8; 32]);

/// Accepted tokens: the fixed one, the named ones, or else a dev token made at first start.
/// Returns the tokens and, when one was made now, the dev token to print once.
pub(super) fn tokens(settings: &Settings) -> anyhow::Result<(Vec<NamedTokenHash>, Option<String>)> {
    let mut out = Vec::new();
    if !settings.auth.token.expose().is_empty() {
        out.push((
            "static".to_string(),
            crypto::seal::sha256(settings.auth.token.expose().as_bytes()),
        ));
    }
    for t in &settings.auth.tokens {
        let bytes = hex::decode(&t.sha256)?;
        let hash: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| anyhow::anyhow!("token {} hash is not 32 bytes", t.name))?;
        out.push((t.name.clone(), hash));
    }
    if !out.is_empty() {
        return Ok((out, None));
    }
    let path = settings.storage.data_dir.join("dev-token.sha256");
    let mut made = None;
    if !path.exists() {
        let token = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            crypto::seal::random_bytes::<32>()?,
        );
        write_private_file(
            &path,
            hex::encode(crypto::seal::sha256(token.as_bytes())).as_bytes(),
        )?;
        made = Some(token);
    }
    let hash = hex::decode(std::fs::read_to_string(&path)?.trim())?;
    let hash: [u8; 32] = hash.as_slice().try_into().map_err(|_| {
        anyhow::anyhow!(
            "{} is damaged; delete it to make a new dev token",
            path.display()
        )
    })?;
    out.push(("dev".to_string(), hash));
    Ok((out, made))
}
