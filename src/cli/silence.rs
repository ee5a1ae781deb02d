//! `newswatch silence`: mute matching alerts for a while — recorded with `silenced_by`, never
//! delivered, not even after the silence ends.
//!
//! Silences live in the state (`state::silences`), so a running daemon applies a new one
//! within a second, and `scan --state` from its start. A silence needs at least one matcher:
//! one that matches every alert is asked for in words (`--rule '*'`), never by forgetting one.

use std::path::PathBuf;
use std::time::Duration;

use super::Format;
use super::print::printable;
use crate::config::parse_duration;
use crate::state::{NewSilence, Silence, State, now_ms};
use crate::time::rfc3339_ms;
use newswatch_engine::alert::Severity;

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// State file (default: as for `watch`).
    #[arg(long, value_name = "FILE", global = true)]
    state: Option<PathBuf>,
    /// Config file (default: ./newswatch.yaml if present), for its `state:`.
    #[arg(long, value_name = "FILE", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand, Debug)]
enum Action {
    /// Mute the alerts that match every condition given, from now.
    Add(AddArgs),
    /// List the silences in force (with --all, those that ended too).
    List {
        /// Also the silences that ended.
        #[arg(long)]
        all: bool,
        /// Output format [default: text on a terminal, json otherwise].
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// End a silence now.
    Expire {
        /// The silence's id, as `silence list` shows it.
        id: i64,
    },
}

#[derive(clap::Args, Debug)]
struct AddArgs {
    /// Alerts of rules whose names match this glob (`chips/*`); repeat for any of several.
    #[arg(long = "rule", value_name = "GLOB")]
    rules: Vec<String>,
    /// Alerts carrying this tag; repeat for any of several.
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
    /// Alerts at least this severe: info, low, medium, high, critical.
    #[arg(long, value_name = "S")]
    min_severity: Option<Severity>,
    /// How long, from now: 30m, 2h, 7d; at most 30d.
    #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration, default_value = "1h")]
    duration: Duration,
    /// Why: shown by `silence list`.
    #[arg(long, value_name = "TEXT", required = true)]
    comment: String,
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
    if let Action::List { .. } = args.action
        && !path.exists()
    {
        tracing::info!("no silences: state {} does not exist", path.display());
        return 0;
    }
    let state = match State::open(&path) {
        Ok(state) => state,
        Err(e) => {
            tracing::error!("{e}");
            return 2;
        }
    };
    let done = match args.action {
        Action::Add(add) => state
            .add_silence(&NewSilence {
                rules: add.rules,
                tags: add.tags,
                min_severity: add.min_severity,
                duration: add.duration,
                comment: add.comment,
            })
            .map(|s| {
                println!(
                    "silence {} added, until {}: {}",
                    s.id,
                    rfc3339_ms(s.ends_ms),
                    matchers(&s)
                )
            })
            .map_err(|e| e.to_string()),
        Action::List { all, format } => list(&state, all, Format::or_default(format)),
        Action::Expire { id } => state
            .expire_silence(id)
            .map(|(s, was_active)| {
                if was_active {
                    println!("silence {id} expired ({} alerts silenced)", s.matched);
                } else {
                    println!(
                        "silence {id} had already ended at {}",
                        rfc3339_ms(s.ends_ms)
                    );
                }
            })
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

/// What a silence matches, in words.
fn matchers(s: &Silence) -> String {
    let mut parts = Vec::new();
    if !s.rules.is_empty() {
        parts.push(format!("rules {}", s.rules.join(", ")));
    }
    if !s.tags.is_empty() {
        parts.push(format!("tags {}", s.tags.join(", ")));
    }
    if let Some(min) = s.min_severity {
        parts.push(format!("severity {min} or more"));
    }
    parts.join("; ")
}

/// A silence as one JSON line, fields in this order.
#[derive(serde::Serialize)]
struct Line<'a> {
    id: i64,
    created: String,
    ends: String,
    active: bool,
    /// When `silence expire` ended it, if it did.
    expired: Option<String>,
    rules: &'a [String],
    tags: &'a [String],
    min_severity: Option<Severity>,
    comment: &'a str,
    /// How many alerts it silenced.
    silenced: u64,
}

fn list(state: &State, all: bool, format: Format) -> Result<(), String> {
    use std::io::Write;
    let silences = state.silences(all).map_err(|e| e.to_string())?;
    let now = now_ms();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let written = silences.iter().try_for_each(|s| {
        let active = s.active_at(now);
        match format {
            Format::Json => {
                let line = Line {
                    id: s.id,
                    created: rfc3339_ms(s.created_ms),
                    ends: rfc3339_ms(s.ends_ms),
                    active,
                    expired: s.expired_ms.map(rfc3339_ms),
                    rules: &s.rules,
                    tags: &s.tags,
                    min_severity: s.min_severity,
                    comment: &s.comment,
                    silenced: s.matched,
                };
                writeln!(out, "{}", serde_json::to_string(&line)?)
            }
            Format::Text => {
                let when = match (active, s.expired_ms) {
                    (true, _) => format!("active until {}", rfc3339_ms(s.ends_ms)),
                    (false, Some(at)) => format!("expired at {}", rfc3339_ms(at)),
                    (false, None) => format!("ended at {}", rfc3339_ms(s.ends_ms)),
                };
                writeln!(out, "{:<6} {when}  {}", s.id, printable(&matchers(s)))?;
                writeln!(
                    out,
                    "       {} alerts silenced; {}",
                    s.matched,
                    printable(&s.comment)
                )
            }
        }
    });
    if format == Format::Text && silences.is_empty() {
        eprintln!("no silences in force");
    }
    // A closed stdout (`| head`) ends the list quietly.
    let _ = written.and_then(|()| out.flush());
    Ok(())
}
