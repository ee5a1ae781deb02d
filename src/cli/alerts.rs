//! `newswatch alerts`: the alert history from the state store.

use std::path::PathBuf;

use super::Format;
use super::print::AlertPrinter;
use crate::config::parse_duration;
use crate::state::{Delivery, DeliveryStatus, History, State};

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// State file (default: as for `watch`).
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// Only alerts raised within this long ago, e.g. 30m, 24h, 7d.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    since: Option<std::time::Duration>,
    /// Only alerts of this rule.
    #[arg(long, value_name = "NAME")]
    rule: Option<String>,
    /// Output format [default: text on a terminal, json otherwise].
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Config file (default: ./newswatch.yaml if present), for its `state:`.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

pub(crate) fn run(args: Args) -> u8 {
    let setup = super::Setup {
        config: args.config.clone(),
        rules: None,
    };
    let path = match setup.config_and_state_or_exit(args.state) {
        Ok((_, path)) => path,
        Err(code) => return code,
    };
    if !path.exists() {
        // Nothing recorded yet is an empty history, not an error.
        tracing::info!(
            "no alerts yet: state {} does not exist (`newswatch watch` and `scan --state` create it)",
            path.display()
        );
        return 0;
    }
    let since = args.since.map(crate::time::rfc3339_ago);
    let history = State::open(&path).and_then(|state| {
        let alerts = state.alerts(since.as_deref(), args.rule.as_deref())?;
        Ok((state, alerts))
    });
    let (state, alerts) = match history {
        Ok(history) => history,
        Err(e) => {
            tracing::error!("{e}");
            return 2;
        }
    };
    let mut printer = AlertPrinter::new(Format::or_default(args.format));
    // Later copies of a story are shown with their first alert, when it is shown.
    let shown: std::collections::HashSet<&str> =
        alerts.iter().map(|h| h.alert.id.as_str()).collect();
    let mut copies: std::collections::HashMap<&str, Vec<&History>> = Default::default();
    for entry in &alerts {
        if let Some(first) = entry.duplicate_of.as_deref().filter(|f| shown.contains(f)) {
            copies.entry(first).or_default().push(entry);
        }
    }
    for entry in &alerts {
        if entry
            .duplicate_of
            .as_deref()
            .is_some_and(|f| shown.contains(f))
        {
            continue;
        }
        let deliveries = state.deliveries(&entry.alert.id).unwrap_or_default();
        let seen = copies
            .get(entry.alert.id.as_str())
            .map_or(&[][..], Vec::as_slice);
        if show(&mut printer, entry, &deliveries, seen).is_err() {
            return 0; // stdout closed
        }
    }
    let _ = printer.flush();
    0
}

/// One alert with its silence, throttle and delivery status: extra keys in JSON, notes in text.
/// Copies of its story shown with an alert in text, before the rest are counted.
const COPIES_SHOWN: usize = 10;

fn show(
    printer: &mut AlertPrinter,
    entry: &History,
    deliveries: &[Delivery],
    seen: &[&History],
) -> std::io::Result<()> {
    let History {
        alert,
        suppressed,
        suppressed_count,
        silenced_by,
        duplicate_of,
    } = entry;
    // Where else the story was seen: the articles of its later copies.
    let seen_json: Vec<serde_json::Value> = seen
        .iter()
        .map(|h| {
            let a = &h.alert;
            serde_json::json!({"id": a.id, "time": a.time, "path": a.article.path,
                               "source": a.article.source, "url": a.article.url,
                               "title": a.article.title})
        })
        .collect();
    let status = |d: &Delivery| match d.status {
        DeliveryStatus::Pending => "pending",
        DeliveryStatus::Delivered => "delivered",
        DeliveryStatus::Failed => "failed",
    };
    if printer.format() == Format::Json {
        // The alert as `scan` prints it, field for field and in its order, then the history.
        #[derive(serde::Serialize)]
        struct Shown<'a> {
            #[serde(flatten)]
            alert: &'a newswatch_engine::Alert,
            suppressed: bool,
            suppressed_count: u64,
            silenced_by: Option<i64>,
            duplicate_of: &'a Option<String>,
            duplicates: usize,
            seen: Vec<serde_json::Value>,
            deliveries: Vec<serde_json::Value>,
        }
        let deliveries = deliveries
            .iter()
            .map(|d| {
                serde_json::json!({"output": d.output, "status": status(d),
                                   "attempts": d.attempts, "last_error": d.last_error})
            })
            .collect();
        let shown = Shown {
            alert,
            suppressed: *suppressed,
            suppressed_count: *suppressed_count,
            silenced_by: *silenced_by,
            duplicate_of,
            duplicates: seen.len(),
            seen: seen_json,
            deliveries,
        };
        return printer.json(&shown);
    }
    printer.print(alert)?;
    if let Some(id) = silenced_by {
        printer.note(&format!("silenced by silence {id} (not delivered)"))?;
    }
    if *suppressed {
        printer.note("suppressed by throttle (not delivered)")?;
    }
    if let Some(first) = duplicate_of {
        printer.note(&format!(
            "a later copy of the story of alert {first} (not delivered)"
        ))?;
    }
    if !seen.is_empty() {
        printer.note(&format!("story seen {} more times:", seen.len()))?;
        for h in seen.iter().take(COPIES_SHOWN) {
            let a = &h.alert.article;
            let place = a.path.as_deref().or(a.url.as_deref()).unwrap_or(&a.title);
            let from = a
                .source
                .as_deref()
                .map(|s| format!(" ({s})"))
                .unwrap_or_default();
            printer.note(&format!("  {} {place}{from}", h.alert.time))?;
        }
        if seen.len() > COPIES_SHOWN {
            printer.note(&format!("  and {} more", seen.len() - COPIES_SHOWN))?;
        }
    }
    if *suppressed_count > 0 {
        printer.note(&format!(
            "{suppressed_count} later alerts of this rule suppressed by throttle"
        ))?;
    }
    for d in deliveries {
        let mut line = format!("{} → {}", d.output, status(d));
        if d.status != DeliveryStatus::Delivered && d.attempts > 0 {
            line += &format!(" after {} attempts", d.attempts);
        }
        if let (Some(e), false) = (&d.last_error, d.status == DeliveryStatus::Delivered) {
            line += &format!(": {e}");
        }
        printer.note(&line)?;
    }
    Ok(())
}
