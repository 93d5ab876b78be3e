//! `certbroker token` and `certbroker client`: bearer tokens and OAuth clients made, listed
//! and revoked from the command line (each change an audit record, through the services).

use std::process::ExitCode;

use certbroker::config::Settings;
use certbroker::domain::names::{valid_credential_name, RESERVED_TOKEN_NAMES};

use crate::CredentialCommand;

/// The caller the token and client commands record.
fn cli_caller() -> certbroker::service::Caller {
    certbroker::service::Caller::system(certbroker::DEFAULT_VAULT, "cli")
}

/// `certbroker token create|list|revoke`.
pub async fn token(settings: &Settings, command: CredentialCommand) -> anyhow::Result<ExitCode> {
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
        CredentialCommand::Create { name, .. } if !valid_credential_name(name) => {
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

/// `certbroker client create|list|revoke`.
pub async fn client(settings: &Settings, command: CredentialCommand) -> anyhow::Result<ExitCode> {
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
