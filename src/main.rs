//! The `certbroker` command: `serve` and `rebuild`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use certbroker::config::Settings;
use certbroker::startup::{open_database, Application};
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
    },
    /// Rebuild every view from the events (with --check: compare, change nothing).
    Rebuild {
        /// Rebuild inside a transaction, compare with the live views, roll back; exit 1 on a difference.
        #[arg(long)]
        check: bool,
    },
}

fn settings(cli: &Cli) -> anyhow::Result<Settings> {
    let mut s = Settings::load(cli.config.as_deref())?;
    if let Some(d) = &cli.data_dir {
        s.storage.data_dir = d.clone();
    }
    Ok(s)
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let mut settings = settings(&cli)?;
    certbroker::telemetry::init(&settings.log);
    match cli.command {
        Command::Serve { listen } => {
            if let Some(l) = listen {
                settings.server.listen = l;
            }
            let data_dir = settings.storage.data_dir.clone();
            let ip = settings.server.listen.ip();
            let app = Application::build(settings).await?;
            if let Some(token) = &app.dev_token {
                println!("certbroker: dev token (shown once, only its hash is kept): {token}");
            }
            println!(
                "certbroker: listening on https://{}:{} (trust {})",
                if ip.is_unspecified() {
                    "127.0.0.1".to_string()
                } else {
                    ip.to_string()
                },
                app.port(),
                data_dir.join("tls").join("ca.pem").display()
            );
            if let Some(port) = app.http01_port() {
                println!("certbroker: answering ACME HTTP-01 challenges on port {port}");
            }
            app.run_until_stopped().await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Rebuild { check } => {
            let (_pool, mut conn) = open_database(&settings.storage.data_dir).await?;
            let report = certbroker::projections::rebuild_command(&mut conn, check)
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
