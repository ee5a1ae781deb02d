//! `newswatch status`: is the daemon of this state running, is it keeping up, what failed.
//!
//! It reads only: the lock beside the state (who holds it, by `F_GETLK`, without taking it:
//! never in the way of a daemon starting) and the state through a read-only connection that
//! never creates or migrates it — so it works while the daemon runs and after it died. The
//! daemon's own view (rules, counters, last article) is its heartbeat row; the counts are the
//! state's tables.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use super::Format;
use crate::state::lock::{self, Holder};
use crate::state::{FeedRow, Heartbeat, OutputSummary, SilenceSummary, State, now_ms};

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Config file, for its `state:` (default: ./newswatch.yaml if present).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// State file (default: `state:` from the config, else
    /// $XDG_STATE_HOME/newswatch/state.db or ~/.local/state/newswatch/state.db).
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// Output format [default: text on a terminal, json otherwise].
    #[arg(long, value_enum)]
    format: Option<Format>,
}

/// Exit codes.
const HEALTHY: u8 = 0;
const ATTENTION: u8 = 1;
const UNREADABLE: u8 = 2;

/// Everything `status` found.
struct Status {
    state: PathBuf,
    /// The lock's holder, if a daemon holds it.
    daemon: Option<Holder>,
    /// A `scan` holding the lock right now (no daemon then).
    scan: Option<Holder>,
    heartbeat: Option<Heartbeat>,
    files: u64,
    alerts: u64,
    outputs: Vec<OutputSummary>,
    silences: Vec<SilenceSummary>,
    /// The feeds of the config (as the daemon or `fetch` last read it).
    feeds: Vec<FeedRow>,
    /// What needs attention, one line each; none: healthy.
    problems: Vec<String>,
}

pub(crate) fn run(args: Args) -> u8 {
    let setup = super::Setup {
        config: args.config.clone(),
        rules: None,
    };
    let config = match setup.load() {
        Ok(loaded) => loaded.config,
        // Only the state's place is wanted from it: with --state, a bad config is no reason
        // not to answer.
        Err(e) if args.state.is_some() => {
            tracing::warn!("{e}");
            crate::config::Config::default()
        }
        Err(e) => {
            tracing::error!("{e}; could not read the state");
            return UNREADABLE;
        }
    };
    let path = super::watch::state_path(args.state, &config);
    let status = match gather(path) {
        Ok(status) => status,
        Err(e) => {
            tracing::error!("could not read the state: {e}");
            return UNREADABLE;
        }
    };
    match Format::or_default(args.format) {
        Format::Json => println!("{}", to_json(&status)),
        Format::Text => print!("{}", to_text(&status)),
    }
    if status.problems.is_empty() {
        HEALTHY
    } else {
        ATTENTION
    }
}

fn gather(state_path: PathBuf) -> Result<Status, String> {
    let state = State::open_read_only(&state_path).map_err(|e| e.to_string())?;
    let holder = lock::holder(&state_path).map_err(|e| e.to_string())?;
    let (scan, daemon) = match holder {
        Some(h) if h.command == "scan" => (Some(h), None),
        other => (None, other),
    };
    let heartbeat = state.heartbeat().map_err(|e| e.to_string())?;
    let (files, alerts) = state.counts().map_err(|e| e.to_string())?;
    let outputs = state.output_summaries().map_err(|e| e.to_string())?;
    let silences = state.silence_summaries().map_err(|e| e.to_string())?;
    let mut feeds = state.feeds().map_err(|e| e.to_string())?;
    feeds.retain(|f| f.active);
    let mut problems = Vec::new();
    if daemon.is_none() {
        problems.push(match &heartbeat {
            Some(hb) => format!(
                "no daemon is running (last heartbeat {}, from pid {})",
                time_of(hb.time_ms),
                hb.pid
            ),
            None => "no daemon is running (none has run on this state)".into(),
        });
    }
    if let Some(hb) = &heartbeat {
        for name in &hb.rules_broken {
            problems.push(format!("rule {name} does not compile"));
        }
    }
    for o in &outputs {
        if o.failed > 0 {
            problems.push(format!(
                "{} failed deliveries to output {}",
                o.failed, o.name
            ));
        }
    }
    for f in feeds.iter().filter(|f| f.failures > 0) {
        problems.push(format!(
            "feed {} is failing: {} poll(s) in a row ({}); next try {}",
            feed_name(f),
            f.failures,
            f.last_error.as_deref().unwrap_or("no answer"),
            time_of(f.next_poll_ms)
        ));
    }
    Ok(Status {
        state: state_path,
        daemon,
        scan,
        heartbeat,
        files,
        alerts,
        outputs,
        silences,
        feeds,
        problems,
    })
}

/// A feed as `status` names it: its title, else its address.
fn feed_name(f: &FeedRow) -> &str {
    f.title.as_deref().unwrap_or(&f.key)
}

/// A time from Unix ms, as RFC 3339.
fn time_of(ms: i64) -> String {
    let t = SystemTime::UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64);
    newswatch_engine::time::rfc3339(t)
}

/// Seconds since `ms` (Unix ms), not below zero.
fn age_s(ms: i64) -> i64 {
    (now_ms() - ms).max(0) / 1000
}

/// `3d 4h`, `5m 2s`, `7s`: how long, for people.
fn span(secs: i64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match () {
        _ if d > 0 => format!("{d}d {h}h"),
        _ if h > 0 => format!("{h}h {m}m"),
        _ if m > 0 => format!("{m}m {s}s"),
        _ => format!("{s}s"),
    }
}

/// The heartbeat is this daemon's (not one of a daemon before it).
fn own_heartbeat(s: &Status) -> Option<&Heartbeat> {
    let hb = s.heartbeat.as_ref()?;
    match &s.daemon {
        Some(d) if d.pid as u32 != hb.pid => None,
        _ => Some(hb),
    }
}

fn to_json(s: &Status) -> Value {
    let hb = s.heartbeat.as_ref();
    let own = own_heartbeat(s);
    json!({
        "state": s.state.display().to_string(),
        "healthy": s.problems.is_empty(),
        "problems": s.problems,
        "running": s.daemon.is_some(),
        "daemon": s.daemon.as_ref().map(|d| json!({
            "pid": d.pid,
            "since": own.map_or(d.since.clone(), |hb| time_of(hb.started_ms)),
            "version": if d.version.is_empty() { own.map(|hb| hb.version.clone()) } else { Some(d.version.clone()) },
        })),
        "scan_pid": s.scan.as_ref().map(|h| h.pid),
        "heartbeat": hb.map(|hb| json!({
            "time": time_of(hb.time_ms),
            "age_seconds": age_s(hb.time_ms),
            "pid": hb.pid,
            "started": time_of(hb.started_ms),
            "version": hb.version,
        })),
        "rules": hb.map(|hb| json!({
            "loaded": hb.rules_loaded,
            "broken": hb.rules_broken.len(),
            "broken_names": hb.rules_broken,
        })),
        "counts": { "files": s.files, "alerts": s.alerts },
        "since_start": hb.map(|hb| json!({
            "articles_evaluated": hb.counters.articles_evaluated,
            "articles_skipped": hb.counters.articles_skipped,
            "alerts_raised": hb.counters.alerts_raised,
        })),
        "last_article": hb.and_then(|hb| hb.last_article.as_ref()).map(|(path, at)| json!({
            "path": path.display().to_string(),
            "time": time_of(*at),
        })),
        "outputs": s.outputs.iter().map(|o| json!({
            "name": o.name,
            "delivered": o.delivered,
            "pending": o.pending,
            "oldest_pending_age_seconds": o.oldest_pending_age_ms.map(|ms| ms / 1000),
            "failed": o.failed,
        })).collect::<Vec<_>>(),
        // SILENCES: filled in by the silences change (schema 8); empty until then.
        "silences": s.silences.iter().map(|x| json!({
            "id": x.id, "comment": x.comment, "until": x.until,
        })).collect::<Vec<_>>(),
        "feeds": s.feeds.iter().map(|f| json!({
            "url": f.key,
            "polled_url": f.url,
            "title": f.title,
            "healthy": f.failures == 0,
            "failures": f.failures,
            "last_poll": f.last_poll_ms.map(time_of),
            "last_success": f.last_ok_ms.map(time_of),
            "last_status": f.last_status,
            "last_error": f.last_error,
            "next_poll": (f.next_poll_ms > 0).then(|| time_of(f.next_poll_ms)),
            "items_seen": f.items_seen,
        })).collect::<Vec<_>>(),
    })
}

/// Label width of the text form.
const LABEL: usize = 13;

fn to_text(s: &Status) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let mut line = |label: &str, text: String| {
        let _ = writeln!(out, "{label:<LABEL$}{text}");
    };
    line("state", s.state.display().to_string());
    let own = own_heartbeat(s);
    match (&s.daemon, &s.heartbeat) {
        (Some(d), _) => {
            let since = own.map_or(d.since.clone(), |hb| {
                format!(
                    "{} ({} ago)",
                    time_of(hb.started_ms),
                    span(age_s(hb.started_ms))
                )
            });
            let version = own.map_or(d.version.as_str(), |hb| hb.version.as_str());
            line(
                "daemon",
                format!("running, pid {}, since {since}, version {version}", d.pid),
            );
        }
        (None, Some(hb)) => line(
            "daemon",
            format!(
                "not running; last heartbeat {} ({} ago), pid {}",
                time_of(hb.time_ms),
                span(age_s(hb.time_ms)),
                hb.pid
            ),
        ),
        (None, None) => line("daemon", "not running; none has run on this state".into()),
    }
    if let Some(scan) = &s.scan {
        line(
            "",
            format!("a newswatch scan (pid {}) is using the state", scan.pid),
        );
    }
    if let Some(hb) = &s.heartbeat {
        let broken = match hb.rules_broken.len() {
            0 => "none broken".to_string(),
            n => format!("{n} broken: {}", hb.rules_broken.join(", ")),
        };
        line("rules", format!("{} loaded, {broken}", hb.rules_loaded));
    }
    line(
        "recorded",
        format!("{} files known, {} alerts", s.files, s.alerts),
    );
    if let Some(hb) = &s.heartbeat {
        let c = hb.counters;
        line(
            "since start",
            format!(
                "{} articles evaluated, {} skipped, {} alerts raised",
                c.articles_evaluated, c.articles_skipped, c.alerts_raised
            ),
        );
        if let Some((path, at)) = &hb.last_article {
            line(
                "last article",
                format!(
                    "{} at {} ({} ago)",
                    path.display(),
                    time_of(*at),
                    span(age_s(*at))
                ),
            );
        }
    }
    if s.outputs.is_empty() {
        line("outputs", "none has had an alert".into());
    } else {
        let width = s
            .outputs
            .iter()
            .map(|o| o.name.chars().count())
            .max()
            .unwrap_or(0);
        line(
            "outputs",
            format!(
                "{:<width$}  delivered  pending  oldest pending  failed",
                "name"
            ),
        );
        for o in &s.outputs {
            let oldest = o
                .oldest_pending_age_ms
                .map_or("-".to_string(), |ms| span(ms / 1000));
            line(
                "",
                format!(
                    "{:<width$}  {:>9}  {:>7}  {:>14}  {:>6}",
                    o.name, o.delivered, o.pending, oldest, o.failed
                ),
            );
        }
    }
    if s.silences.is_empty() {
        line("silences", "none".into());
    } else {
        for (i, x) in s.silences.iter().enumerate() {
            let label = if i == 0 { "silences" } else { "" };
            line(label, format!("{} until {}: {}", x.id, x.until, x.comment));
        }
    }
    if s.feeds.is_empty() {
        line("feeds", "none".into());
    }
    for (i, f) in s.feeds.iter().enumerate() {
        let label = if i == 0 { "feeds" } else { "" };
        let polled = match (f.last_poll_ms, f.failures) {
            (None, _) => "never polled yet".to_string(),
            (Some(at), 0) => format!("ok {} ago", span(age_s(at))),
            (Some(at), n) => format!(
                "FAILING ({n} in a row, last {} ago: {})",
                span(age_s(at)),
                f.last_error.as_deref().unwrap_or("no answer")
            ),
        };
        let moved = if f.url != f.key {
            format!(", moved to {}", f.url)
        } else {
            String::new()
        };
        line(
            label,
            format!(
                "{}: {polled}, {} items seen{moved}",
                feed_name(f),
                f.items_seen
            ),
        );
    }
    if s.problems.is_empty() {
        line("health", "ok".into());
    } else {
        for (i, p) in s.problems.iter().enumerate() {
            let label = if i == 0 { "attention" } else { "" };
            line(label, p.clone());
        }
    }
    out
}
