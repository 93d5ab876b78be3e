//! `certbroker verify` and `certbroker events`: the audit trail read from the command line,
//! on the database directly (the server may be running).

use std::process::ExitCode;

use anyhow::Context;
use certbroker::es::storage::Session;

use crate::{EventsArgs, Format};

/// `certbroker verify`: walks the hash chain in one read transaction; exit 1 when a row
/// does not hold or the expected head is gone.
pub async fn verify(
    owned: &mut impl Session,
    expect_head: Option<&str>,
) -> anyhow::Result<ExitCode> {
    // One read transaction: a consistent snapshot while the server keeps appending.
    let v = certbroker::projections::observe::verify_chain(owned, expect_head)
        .await
        .context("walking the events hash chain")?;
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

/// `certbroker events`: events and audit records, oldest first, as a table or JSON lines.
pub async fn events(owned: &mut impl Session, args: EventsArgs) -> anyhow::Result<ExitCode> {
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
