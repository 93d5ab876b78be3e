//! The `certbroker` command: `serve`, `healthcheck`, `rebuild`, `verify`, `events`, `token`,
//! `client`, `migrate-storage`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use certbroker::config::Settings;
use certbroker::es::storage::Session;
use certbroker::startup::{open_tool_database, Application};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "certbroker",
    version,
    about = "A certificate broker that speaks Azure Key Vault's certificates API"
)]
struct Cli {
    /// A TOML file layered over the embedded defaults.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// The data directory (overrides storage.data_dir).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// The database (overrides storage.url): postgres://user:pass@host:port/db, or empty
    /// for the SQLite file in the data directory.
    #[arg(long, global = true, value_name = "URL")]
    storage_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the HTTPS server.
    Serve {
        /// Listen address and port (overrides server.listen), e.g. 127.0.0.1:8443.
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// A seed file (TOML) of issuers, contacts and certificates to create on a data
        /// directory that does not have them yet (overrides seed.file).
        #[arg(long)]
        seed: Option<PathBuf>,
    },
    /// Ask a running server whether it is ready (GET /readyz): exit 0 when it is, 1 when
    /// not or unreachable. For container health checks (no curl needed).
    Healthcheck {
        /// The readiness URL (default: https://<server.listen>/readyz, on the loopback
        /// address when server.listen is a wildcard address).
        #[arg(long)]
        url: Option<String>,
        /// PEM file of the CA that signed the server's TLS certificate (default:
        /// <data_dir>/tls/ca.pem, else tls.cert_file; the system's CAs are trusted too).
        #[arg(long)]
        cacert: Option<PathBuf>,
        /// Seconds to wait for the answer.
        #[arg(long, default_value_t = 5)]
        timeout: u64,
    },
    /// Rebuild every view from the events (with --check: compare, change nothing).
    Rebuild {
        /// Rebuild inside a transaction, compare with the live views, roll back; exit 1 on a difference.
        #[arg(long)]
        check: bool,
    },
    /// Walk the events hash chain; name the first row that was edited, deleted, inserted or
    /// moved (exit 1). Prints the head (position and hash) to keep elsewhere.
    Verify {
        /// A head printed by an earlier verify (or GET /audit/head): it must still be in the
        /// chain, else the chain was truncated or rewritten (exit 1).
        #[arg(long, value_name = "HASH")]
        expect_head: Option<String>,
    },
    /// List events and audit records, oldest first (JSON lines with --format json: an
    /// export for a SIEM).
    Events(EventsArgs),
    /// Manage bearer tokens with roles (only their SHA-256 is stored).
    Token {
        #[command(subcommand)]
        command: CredentialCommand,
    },
    /// Manage OAuth clients with roles, for client-credentials logins (EnvironmentCredential,
    /// `az login --service-principal`): only the SHA-256 of the secret is stored.
    Client {
        #[command(subcommand)]
        command: CredentialCommand,
    },
    /// Copy the SQLite database of the data directory to an empty PostgreSQL database (the
    /// server stopped): events with their hashes, sealed keys, tokens, clients and settings;
    /// rebuild the views there, verify the chain, print both heads (they must be equal).
    MigrateStorage {
        /// The target: postgres://user:pass@host:port/db (its migrations run first).
        #[arg(long, value_name = "URL")]
        to: String,
    },
}

/// What `token` and `client` do with their credentials.
#[derive(Subcommand)]
enum CredentialCommand {
    /// Make one: its secret (a token; a client's id and secret) is printed once.
    Create {
        #[arg(long)]
        name: String,
        /// reader, operator, officer or admin.
        #[arg(long)]
        role: certbroker::http::roles::Role,
    },
    /// List them (names, roles, dates, client ids; never secrets).
    List,
    /// Revoke one: it stops working at once (a client gets no more tokens, and those it
    /// has stop working).
    Revoke {
        #[arg(long)]
        name: String,
    },
}

#[derive(clap::Args)]
struct EventsArgs {
    /// The vault (the first label of the host its clients call; `default` on a bare host).
    #[arg(long, default_value = certbroker::DEFAULT_VAULT)]
    vault: String,
    /// A certificate's events and the audit records about it.
    #[arg(long)]
    name: Option<String>,
    #[arg(long)]
    event_type: Option<String>,
    #[arg(long)]
    actor: Option<String>,
    /// Recorded at or after (RFC 3339).
    #[arg(long)]
    from: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// Recorded at or before (RFC 3339).
    #[arg(long)]
    to: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// Only events after this position.
    #[arg(long, default_value_t = 0)]
    after: i64,
    /// Stop after this many events.
    #[arg(long)]
    limit: Option<u64>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Table,
    Json,
}

fn settings(cli: &Cli) -> anyhow::Result<Settings> {
    let mut s = Settings::load(cli.config.as_deref())?;
    if let Some(d) = &cli.data_dir {
        s.storage.data_dir = d.clone();
    }
    if let Some(u) = &cli.storage_url {
        s.storage.url = certbroker::config::Secret::new(u.clone());
    }
    Ok(s)
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let mut settings = settings(&cli)?;
    certbroker::telemetry::init(&settings.log);
    match cli.command {
        Command::Serve { listen, seed } => {
            if let Some(l) = listen {
                settings.server.listen = l;
            }
            if let Some(f) = seed {
                settings.seed.file = f.to_string_lossy().into_owned();
            }
            let data_dir = settings.storage.data_dir.clone();
            let ip = settings.server.listen.ip();
            let app = Application::build(settings).await?;
            if let Some(token) = &app.dev_token {
                println!("certbroker: dev token (shown once, only its hash is kept): {token}");
            }
            let base = format!("https://{}:{}", loopback_if_wildcard(ip), app.port());
            println!(
                "certbroker: listening on {base} (trust {})",
                data_dir.join("tls").join("ca.pem").display()
            );
            if let Some(port) = app.http01_port() {
                println!("certbroker: answering ACME HTTP-01 challenges on port {port}");
            }
            let state = app.state();
            let serving = tokio::spawn(app.run_until_stopped());
            tokio::spawn(announce_ready(state, base));
            serving.await??;
            Ok(ExitCode::SUCCESS)
        }
        Command::Healthcheck {
            url,
            cacert,
            timeout,
        } => {
            let url = match url {
                Some(u) => u,
                None => {
                    let listen = settings.server.listen;
                    if listen.port() == 0 {
                        anyhow::bail!("server.listen has port 0: give the server's --url");
                    }
                    format!(
                        "https://{}:{}/readyz",
                        loopback_if_wildcard(listen.ip()),
                        listen.port()
                    )
                }
            };
            let cacert = cacert.or_else(|| {
                let generated = settings.storage.data_dir.join("tls").join("ca.pem");
                if generated.is_file() {
                    Some(generated)
                } else if !settings.tls.cert_file.is_empty() {
                    Some(PathBuf::from(&settings.tls.cert_file))
                } else {
                    None
                }
            });
            healthcheck(&url, cacert.as_deref(), timeout).await
        }
        Command::Rebuild { check } => {
            let (_storage, mut owned) = open_tool_database(&settings).await?;
            let report = certbroker::projections::rebuild_command(&mut owned, check)
                .await
                .context("rebuilding the views")?;
            println!("replayed {} events", report.events);
            if check {
                if report.differences.is_empty() {
                    println!("views match the events");
                } else {
                    for d in &report.differences {
                        println!("{d}");
                    }
                    println!("{} differences", report.differences.len());
                    return Ok(ExitCode::from(1));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify { expect_head } => {
            let (_storage, mut owned) = open_tool_database(&settings).await?;
            verify(&mut owned, expect_head.as_deref()).await
        }
        Command::Events(args) => {
            let (_storage, mut owned) = open_tool_database(&settings).await?;
            events(&mut owned, args).await
        }
        Command::Token { command } => token(&settings, command).await,
        Command::Client { command } => client(&settings, command).await,
        Command::MigrateStorage { to } => migrate_storage(&settings, &to).await,
    }
}

/// `certbroker migrate-storage --to URL`: what was copied, then both heads.
async fn migrate_storage(settings: &Settings, to: &str) -> anyhow::Result<ExitCode> {
    let report = certbroker::startup::migrate_storage(settings, to).await?;
    for (table, rows) in &report.tables {
        println!("copied {table}: {rows} rows");
    }
    println!("rebuilt the views from {} events", report.replayed);
    println!("verified {} events on the target", report.verified);
    let show = certbroker::startup::show_head;
    println!("source head {}", show(report.source_head.as_ref()));
    println!("target head {}", show(report.target_head.as_ref()));
    Ok(ExitCode::SUCCESS)
}

/// The host to call for a listen address: the loopback address for a wildcard address
/// (`0.0.0.0`, `[::]`), IPv6 in brackets.
fn loopback_if_wildcard(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V4(v4) if v4.is_unspecified() => "127.0.0.1".into(),
        std::net::IpAddr::V6(v6) if v6.is_unspecified() => "[::1]".into(),
        std::net::IpAddr::V4(v4) => v4.to_string(),
        std::net::IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

/// Prints `certbroker ready on <base>` once, when every readiness check passes (the line
/// container wait strategies look for); logs what is missing meanwhile.
async fn announce_ready(state: certbroker::http::AppState, base: String) {
    let mut tries = 0u32;
    loop {
        let r = certbroker::http::ops::readiness(&state).await;
        if r.ready {
            println!("certbroker ready on {base}");
            tracing::info!(url = %base, "ready");
            return;
        }
        if tries % 20 == 0 {
            tracing::warn!(reasons = %r.reasons.join("; "), "not ready yet");
        }
        tries += 1;
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

/// `certbroker healthcheck`: GET the readiness URL, trusting `cacert` (and the system's
/// CAs); exit 0 on 200, 1 otherwise.
async fn healthcheck(
    url: &str,
    cacert: Option<&std::path::Path>,
    timeout: u64,
) -> anyhow::Result<ExitCode> {
    let mut builder = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(timeout.max(1)))
        .no_proxy();
    if let Some(path) = cacert {
        let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let certs = openssl::x509::X509::stack_from_pem(&pem)
            .with_context(|| format!("{} is not PEM", path.display()))?;
        for c in certs {
            builder = builder.add_root_certificate(reqwest::Certificate::from_der(&c.to_der()?)?);
        }
    }
    let client = builder.build().context("making the HTTPS client")?;
    match client.get(url).send().await {
        Ok(r) if r.status().is_success() => {
            println!("ready: {url}");
            Ok(ExitCode::SUCCESS)
        }
        Ok(r) => {
            let status = r.status().as_u16();
            let body: serde_json::Value = r.json().await.unwrap_or_default();
            let why = body["error"]["message"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| format!("HTTP {status}"));
            println!("not ready ({status}): {why}");
            Ok(ExitCode::from(1))
        }
        Err(e) => {
            let mut why = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                why.push_str(": ");
                why.push_str(&s.to_string());
                source = s.source();
            }
            println!("not ready: {url}: {why}");
            Ok(ExitCode::from(1))
        }
    }
}

async fn verify(owned: &mut impl Session, expect_head: Option<&str>) -> anyhow::Result<ExitCode> {
    use certbroker::es::chain;
    // One read transaction: a consistent snapshot while the server keeps appending.
    owned.begin_read().await?;
    let v = chain::verify(owned, chain::Range::default(), expect_head).await;
    let _ = owned.exec("ROLLBACK").await;
    let v = v.context("walking the events hash chain")?;
    if let Some(b) = &v.broken {
        println!("chain broken at {b}");
        println!("{} events verified before it", v.rows);
        return Ok(ExitCode::from(1));
    }
    println!("verified {} events", v.rows);
    match &v.head {
        Some(h) => println!("head position {} hash {}", h.position, h.hash),
        None => println!("head none (no events)"),
    }
    if let Some(expected) = expect_head {
        match v.expected_head_at {
            Some(p) => println!("expected head found at position {p}"),
            None => {
                println!(
                    "expected head {expected} not found: the chain was truncated or rewritten"
                );
                return Ok(ExitCode::from(1));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn events(owned: &mut impl Session, args: EventsArgs) -> anyhow::Result<ExitCode> {
    use certbroker::es::audit::{query, EventFilter};
    use std::io::Write;
    let mut filter = EventFilter {
        vault: args.vault,
        certificate: args.name.map(|n| n.to_ascii_lowercase()),
        event_type: args.event_type,
        actor: args.actor,
        from: args.from.map(|t| t.with_timezone(&chrono::Utc)),
        to: args.to.map(|t| t.with_timezone(&chrono::Utc)),
        after: args.after,
    };
    let mut left = args.limit.unwrap_or(u64::MAX);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if matches!(args.format, Format::Table) {
        writeln!(
            out,
            "{:>8}  {:<27}  {:<12}  {:<40}  {:<24}  FROM",
            "POSITION", "RECORDED_AT", "ACTOR", "STREAM", "EVENT_TYPE"
        )?;
    }
    while left > 0 {
        let page = query(&mut owned.conn(), &filter, left.min(1000) as i64)
            .await
            .context("reading events")?;
        let Some(last) = page.last() else { break };
        filter.after = last.row.position;
        left = left.saturating_sub(page.len() as u64);
        for entry in &page {
            let e = &entry.row;
            match args.format {
                Format::Json => writeln!(out, "{}", serde_json::to_string(entry)?)?,
                Format::Table => writeln!(
                    out,
                    "{:>8}  {:<27}  {:<12}  {:<40}  {:<24}  {}",
                    e.position,
                    e.recorded_at,
                    e.actor,
                    e.stream_id,
                    e.event_type,
                    e.remote_addr.as_deref().unwrap_or("-")
                )?,
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Token names the server gives itself or its configured tokens.
const RESERVED_TOKEN_NAMES: &[&str] = &["static", "dev", "anonymous", "worker", "cli", "seed"];

/// The caller the token and client commands record.
fn cli_caller() -> certbroker::service::Caller {
    certbroker::service::Caller::system(certbroker::DEFAULT_VAULT, "cli")
}

async fn token(settings: &Settings, command: CredentialCommand) -> anyhow::Result<ExitCode> {
    let services = certbroker::startup::open_services(settings).await?;
    let (tokens, caller) = (&services.tokens, cli_caller());
    if let Some(refused) = refuse_name(&command, "token") {
        return Ok(refused);
    }
    let header = [
        ("NAME", 24),
        ("ROLE", 9),
        ("CREATED_AT", 27),
        ("REVOKED_AT", 0),
    ];
    match command {
        CredentialCommand::List => {
            let rows = tokens.list().await?;
            let cells = rows.iter().map(|t| {
                let revoked = t.revoked_at.as_deref().unwrap_or("-");
                vec![
                    t.name.as_str(),
                    t.role.as_str(),
                    t.created_at.as_str(),
                    revoked,
                ]
            });
            print!("{}", table(&header, cells));
            Ok(ExitCode::SUCCESS)
        }
        CredentialCommand::Create { name, role } => {
            let taken = RESERVED_TOKEN_NAMES.contains(&name.as_str())
                || settings.auth.tokens.iter().any(|t| t.name == name);
            if taken {
                eprintln!("certbroker: the token name '{name}' is reserved");
                return Ok(ExitCode::from(2));
            }
            let (secret, hash) = new_secret("cbt_")?;
            let created = tokens.create(&caller, &name, role.as_str(), &hash).await;
            answer(
                created,
                || println!("{secret}"),
                "a token with that name exists",
            )
        }
        CredentialCommand::Revoke { name } => answer(
            tokens.revoke(&caller, &name).await,
            || println!("revoked"),
            "no active token has that name",
        ),
    }
}

/// A new secret for a token or client (`prefix` and 32 random bytes, base64url) and the
/// SHA-256 (hex) that is all the database keeps of it.
fn new_secret(prefix: &str) -> anyhow::Result<(String, String)> {
    let secret = format!(
        "{prefix}{}",
        base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            certbroker::crypto::seal::random_bytes::<32>()?,
        )
    );
    let hash = hex::encode(certbroker::crypto::seal::sha256(secret.as_bytes()));
    Ok((secret, hash))
}

/// The exit of a token or client command: `done` on success, exit 2 saying `refused` when
/// the domain refused it (a taken name, nothing to revoke), the error otherwise.
fn answer(
    result: Result<(), certbroker::service::ServiceError>,
    done: impl FnOnce(),
    refused: &str,
) -> anyhow::Result<ExitCode> {
    match result {
        Ok(()) => {
            done();
            Ok(ExitCode::SUCCESS)
        }
        Err(certbroker::service::ServiceError::Domain(_)) => {
            eprintln!("certbroker: {refused}");
            Ok(ExitCode::from(2))
        }
        Err(e) => Err(e.into()),
    }
}

/// Exit 2 for a create of a `noun` (token or client) whose name is not valid, saying what
/// a name is.
fn refuse_name(command: &CredentialCommand, noun: &str) -> Option<ExitCode> {
    match command {
        CredentialCommand::Create { name, .. } if !valid_name(name) => {
            eprintln!("certbroker: a {noun} name is 1-64 letters, digits, '-', '_' or '.'");
            Some(ExitCode::from(2))
        }
        _ => None,
    }
}

/// A header line and one line per row, each column left-aligned to its width and two
/// spaces apart (the last column unpadded).
fn table<'a>(columns: &[(&str, usize)], rows: impl Iterator<Item = Vec<&'a str>>) -> String {
    let mut out = String::new();
    let mut line = |cells: &[&str]| {
        for (i, (cell, (_, width))) in cells.iter().zip(columns).enumerate() {
            if i + 1 == columns.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<width$}  "));
            }
        }
        out.push('\n');
    };
    line(&columns.iter().map(|(h, _)| *h).collect::<Vec<_>>());
    for row in rows {
        line(&row);
    }
    out
}

/// Whether `name` is a valid token or client name.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

async fn client(settings: &Settings, command: CredentialCommand) -> anyhow::Result<ExitCode> {
    let services = certbroker::startup::open_services(settings).await?;
    let (clients, caller) = (&services.clients, cli_caller());
    if let Some(refused) = refuse_name(&command, "client") {
        return Ok(refused);
    }
    let header = [
        ("NAME", 24),
        ("CLIENT_ID", 36),
        ("ROLE", 9),
        ("CREATED_AT", 27),
        ("REVOKED_AT", 0),
    ];
    match command {
        CredentialCommand::List => {
            let rows = clients.list().await?;
            let cells = rows.iter().map(|c| {
                let revoked = c.revoked_at.as_deref().unwrap_or("-");
                let (name, id, role) = (c.name.as_str(), c.client_id.as_str(), c.role.as_str());
                vec![name, id, role, c.created_at.as_str(), revoked]
            });
            print!("{}", table(&header, cells));
            Ok(ExitCode::SUCCESS)
        }
        CredentialCommand::Create { name, role } => {
            let client_id = uuid::Uuid::new_v4().hyphenated().to_string();
            let (secret, hash) = new_secret("cbc_")?;
            let created = clients
                .create(&caller, &name, &client_id, role.as_str(), &hash)
                .await;
            let shown = || {
                println!("client_id {client_id}");
                println!("client_secret {secret}");
            };
            answer(created, shown, "a client with that name exists")
        }
        CredentialCommand::Revoke { name } => answer(
            clients.revoke(&caller, &name).await,
            || println!("revoked"),
            "no active client has that name",
        ),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("certbroker: {e:#}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn table_pads_every_column_but_the_last() {
        let rows = vec![vec!["ops", "reader", "2026-01-01T00:00:00Z", "-"]].into_iter();
        let header = [
            ("NAME", 6),
            ("ROLE", 9),
            ("CREATED_AT", 20),
            ("REVOKED_AT", 0),
        ];
        assert_eq!(
            super::table(&header, rows),
            format!(
                "{:<6}  {:<9}  {:<20}  REVOKED_AT\n{:<6}  {:<9}  {:<20}  -\n",
                "NAME", "ROLE", "CREATED_AT", "ops", "reader", "2026-01-01T00:00:00Z"
            )
        );
    }
}
