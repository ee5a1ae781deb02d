//! `newswatch outbox`: inspect and mend the delivery queue.
//!
//! `list` shows the deliveries pending or failed, each by its id — the outbox row's `seq`,
//! which also orders its queue — with its alert, output, status, attempts, next try and error.
//! A queue whose output is no longer in the config is listed under the name it had, marked so.
//! `retry` puts deliveries back to pending, as new (no attempts, due now), in their queue or in
//! another configured output's (`--to`); `drop` deletes them from the outbox, leaving their
//! alerts in the history. A running daemon takes the changes up within a second or so: each
//! edit bumps the state's revision counter, which the daemon reads once a second.
//!
//! Outputs are known here by their identities (keys and names) computed from the config, not
//! built: nothing is opened or connected.

use std::path::PathBuf;

use super::Format;
use super::print::printable;
use crate::config::{Identity, output_identities};
use crate::state::{DeliveryStatus, OutputIdentity, QueuedDelivery, State};
use crate::time::rfc3339_ms;

#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct Args {
    /// State file (default: as for `watch`).
    #[arg(long, value_name = "FILE", global = true)]
    state: Option<PathBuf>,
    /// Config file (default: ./newswatch.yaml if present): its outputs and `state:`.
    #[arg(long, value_name = "FILE", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    action: Option<Action>,
    /// `outbox` alone lists.
    #[command(flatten)]
    list: ListArgs,
}

#[derive(clap::Subcommand, Debug)]
enum Action {
    /// List the deliveries pending or failed (the default).
    List(ListArgs),
    /// Put deliveries back to pending, as new: no attempts, tried now.
    Retry(RetryArgs),
    /// Delete deliveries from the outbox; their alerts stay in the history.
    Drop {
        /// Delivery ids, as `outbox list` shows them.
        #[arg(required = true, value_name = "ID")]
        ids: Vec<i64>,
    },
}

#[derive(clap::Args, Debug)]
struct ListArgs {
    /// Only the deliveries of the output of this name.
    #[arg(long, value_name = "NAME")]
    output: Option<String>,
    /// Only pending or only failed deliveries.
    #[arg(long, value_enum)]
    status: Option<Status>,
    /// Output format [default: text on a terminal, json otherwise].
    #[arg(long, value_enum)]
    format: Option<Format>,
}

#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("which").required(true).multiple(true)))]
struct RetryArgs {
    /// Delivery ids, as `outbox list` shows them.
    #[arg(value_name = "ID", group = "which")]
    ids: Vec<i64>,
    /// Every failed delivery (of `--output`, if given).
    #[arg(long, group = "which")]
    failed: bool,
    /// Every delivery pending or failed of the output of this name (with `--failed`: failed
    /// only); a queue whose output left the config is named as it was.
    #[arg(long, value_name = "NAME", group = "which")]
    output: Option<String>,
    /// Move them to the queue of this output of the config.
    #[arg(long, value_name = "NAME")]
    to: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Status {
    Pending,
    Failed,
}

impl From<Status> for DeliveryStatus {
    fn from(s: Status) -> DeliveryStatus {
        match s {
            Status::Pending => DeliveryStatus::Pending,
            Status::Failed => DeliveryStatus::Failed,
        }
    }
}

/// A delivery with its output as the config names it now, if the config has it.
struct Shown {
    delivery: QueuedDelivery,
    /// The output's name: the config's, else the one it last had.
    output: String,
    in_config: bool,
}

pub(crate) fn run(args: Args) -> u8 {
    let setup = super::Setup {
        config: args.config.clone(),
        rules: None,
    };
    let (loaded, path) = match setup.config_and_state_or_exit(args.state) {
        Ok(found) => found,
        Err(code) => return code,
    };
    let outputs = output_identities(&loaded.config.outputs);
    let action = args.action.unwrap_or(Action::List(args.list));
    if !path.exists() {
        // Nothing recorded yet: an empty outbox, and no file created to say so.
        if let Action::List(_) = action {
            tracing::info!(
                "the outbox is empty: state {} does not exist",
                path.display()
            );
            return 0;
        }
    }
    let state = match State::open(&path) {
        Ok(state) => state,
        Err(e) => {
            tracing::error!("{e}");
            return 2;
        }
    };
    let done = match action {
        Action::List(list) => self::list(&state, &outputs, &list),
        Action::Retry(retry) => self::retry(&state, &outputs, &retry),
        Action::Drop { ids } => state
            .drop_deliveries(&ids)
            .map(|n| println!("dropped {n} deliveries (their alerts stay in the history)"))
            .map_err(|e| e.to_string()),
    };
    match done {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!("{e}");
            2
        }
    }
}

/// The queued deliveries (of `status`), each with its output's name and whether the config
/// has it.
fn queued(
    state: &State,
    outputs: &[Identity],
    status: Option<DeliveryStatus>,
) -> Result<Vec<Shown>, String> {
    let queued = state.queued_deliveries(status).map_err(|e| e.to_string())?;
    Ok(queued
        .into_iter()
        .map(|delivery| {
            let configured = outputs.iter().find(|o| o.key == delivery.output_key);
            Shown {
                output: configured.map_or_else(|| delivery.output_name.clone(), |o| o.name.clone()),
                in_config: configured.is_some(),
                delivery,
            }
        })
        .collect())
}

fn list(state: &State, outputs: &[Identity], args: &ListArgs) -> Result<(), String> {
    let mut shown = queued(state, outputs, args.status.map(Into::into))?;
    if let Some(name) = &args.output {
        shown.retain(|s| &s.output == name);
    }
    let format = Format::or_default(args.format);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let written = shown.iter().try_for_each(|s| match format {
        Format::Json => json_line(&mut out, s),
        Format::Text => text(&mut out, s),
    });
    if format == Format::Text && shown.is_empty() {
        eprintln!("no deliveries pending or failed");
    }
    // A closed stdout (`| head`) ends the list quietly.
    let _ = written.and_then(|()| std::io::Write::flush(&mut out));
    Ok(())
}

fn status_name(status: DeliveryStatus) -> &'static str {
    match status {
        DeliveryStatus::Pending => "pending",
        DeliveryStatus::Delivered => "delivered",
        DeliveryStatus::Failed => "failed",
    }
}

/// A delivery as one JSON line, fields in this order.
#[derive(serde::Serialize)]
struct Line<'a> {
    id: i64,
    alert: &'a str,
    rule: &'a str,
    title: &'a str,
    output: &'a str,
    in_config: bool,
    status: &'static str,
    attempts: u32,
    /// For a pending delivery; a due time that has passed is now.
    next_try: Option<String>,
    last_error: Option<&'a str>,
}

fn json_line(out: &mut impl std::io::Write, s: &Shown) -> std::io::Result<()> {
    let d = &s.delivery;
    let line = Line {
        id: d.seq,
        alert: &d.alert_id,
        rule: &d.rule,
        title: &d.title,
        output: &s.output,
        in_config: s.in_config,
        status: status_name(d.status),
        attempts: d.attempts,
        next_try: (d.status == DeliveryStatus::Pending).then(|| next_try(d)),
        last_error: d.last_error.as_deref(),
    };
    writeln!(out, "{}", serde_json::to_string(&line)?)
}

/// When a pending delivery is tried next: a due time that has passed is now.
fn next_try(d: &QueuedDelivery) -> String {
    rfc3339_ms(d.next_try_ms.max(crate::state::now_ms()))
}

fn text(out: &mut impl std::io::Write, s: &Shown) -> std::io::Result<()> {
    let d = &s.delivery;
    let gone = if s.in_config {
        ""
    } else {
        " (not in the config)"
    };
    writeln!(
        out,
        "{:<6} {:<8} {}{gone}",
        d.seq,
        status_name(d.status),
        printable(&s.output)
    )?;
    writeln!(
        out,
        "       alert {}  {}  {}",
        d.alert_id,
        printable(&d.rule),
        printable(&d.title)
    )?;
    let mut tries = format!("{} attempts", d.attempts);
    if d.status == DeliveryStatus::Pending {
        tries += &format!(", next try {}", next_try(d));
    }
    writeln!(out, "       {tries}")?;
    if let Some(error) = &d.last_error {
        writeln!(out, "       error: {}", printable(error))?;
    }
    Ok(())
}

fn retry(state: &State, outputs: &[Identity], args: &RetryArgs) -> Result<(), String> {
    let to = match &args.to {
        Some(name) => {
            let Some(target) = outputs.iter().find(|o| &o.name == name) else {
                let names: Vec<&str> = outputs.iter().map(|o| o.name.as_str()).collect();
                return Err(format!(
                    "--to {name:?}: no output of the config has this name; it has: {}",
                    names.join(", ")
                ));
            };
            // The state learns the target's name, as a daemon started with this config would.
            let known: Vec<OutputIdentity> = outputs
                .iter()
                .map(|o| OutputIdentity {
                    key: &o.key,
                    legacy_key: &o.legacy_key,
                    name: &o.name,
                })
                .collect();
            state.adopt_outputs(&known).map_err(|e| e.to_string())?;
            Some(target)
        }
        None => None,
    };
    let all = queued(state, outputs, None)?;
    let mut seqs = args.ids.clone();
    if args.failed || args.output.is_some() {
        let chosen = all.iter().filter(|s| {
            (!args.failed || s.delivery.status == DeliveryStatus::Failed)
                && args.output.as_ref().is_none_or(|name| &s.output == name)
        });
        seqs.extend(chosen.map(|s| s.delivery.seq));
        if seqs.is_empty() {
            println!("nothing to retry");
            return Ok(());
        }
    }
    seqs.sort_unstable();
    seqs.dedup();
    let mended = state
        .requeue(&seqs, to.map(|t| t.key.as_str()))
        .map_err(|e| e.to_string())?;
    // Retried where they are, deliveries of a queue no output delivers would wait on.
    let left_out = all
        .iter()
        .filter(|s| to.is_none() && !s.in_config && seqs.contains(&s.delivery.seq))
        .count();
    match to {
        Some(target) => println!(
            "moved {} deliveries to {} (pending, tried now)",
            mended.changed, target.name
        ),
        None => println!("{} deliveries pending again, tried now", mended.changed),
    }
    if !mended.already_there.is_empty() {
        println!(
            "left as they were, their alerts already being in that queue: {}",
            mended
                .already_there
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if left_out > 0 {
        println!(
            "{left_out} of them wait for outputs the config no longer has: move them with --to NAME"
        );
    }
    Ok(())
}
