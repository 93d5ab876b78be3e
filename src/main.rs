//! The `certbroker` command: `serve`, `healthcheck`, `rebuild`, `verify`, `events`, `token`,
//! `client`, `migrate-storage`: the command line, the server's start, and the bodies of
//! `rebuild` and `migrate-storage`. The other subcommands' bodies are in `cli/`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use certbroker::config::Settings;
use certbroker::startup::{open_tool_database, Application};
use clap::{Parser, Subcommand};

mod cli;

use cli::audit::{events, verify};
use cli::credentials::{client, token};
use cli::health::healthcheck;

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
