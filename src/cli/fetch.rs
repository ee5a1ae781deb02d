//! `newswatch fetch`: every feed of the config polled once — whether or not its `every` has
//! passed, but never during a backoff or a `Retry-After` — its new items evaluated, the alerts
//! recorded and delivered through the config's outputs: the daemon's feeds, for cron.
//!
//! Exit codes like `scan`: 0 alerts raised, 1 none, 2 it could not do its job (a bad config or
//! OPML file, no feeds, no rules folder, a state that cannot be written, or every feed polled
//! failing). A feed that fails among others is reported on stderr and in `status`, and changes
//! nothing else, like a file `scan` skips.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc;

use crate::metrics::Metrics;
use crate::outbox;
use crate::state::lock::{ScanAccess, StateLock};
use crate::state::{Recorded, State};
use crate::watch::feeds::{intake, log, record, sync};

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    #[command(flatten)]
    setup: super::Setup,
    /// State file (default: `state:` from the config, else
    /// $XDG_STATE_HOME/newswatch/state.db or ~/.local/state/newswatch/state.db).
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
}

const FOUND: u8 = 0;
const NOT_FOUND: u8 = 1;
const TROUBLE: u8 = 2;

pub(crate) fn run(args: Args) -> u8 {
    match fetch(args) {
        Ok(code) => code,
        Err(e) => {
            tracing::error!("{e}");
            TROUBLE
        }
    }
}

fn fetch(args: Args) -> Result<u8, String> {
    let (loaded, rules) = match args.setup.load_rules_or_exit() {
        Ok(both) => both,
        Err(code) => return Ok(code),
    };
    for d in rules.diagnostics() {
        tracing::error!("{d}");
    }
    let config = &loaded.config;
    config.require_env().map_err(|e| e.to_string())?;
    let feeds = crate::feeds::resolve(config).map_err(|e| e.to_string())?;
    if feeds.is_empty() {
        return Err(
            "no feeds to fetch: list them under `feeds:` in the config (url: or opml:)".into(),
        );
    }
    let state_path = super::watch::state_path(args.state, config);
    let mut state = State::open(&state_path).map_err(|e| e.to_string())?;
    state.set_story_window(config.stories.window);
    let mut routes = crate::config::build_routes(&config.outputs).map_err(|e| e.to_string())?;
    // As `scan --deliver`: a daemon holding the state delivers what this records.
    let lock = match StateLock::for_scan(&state_path).map_err(|e| e.to_string())? {
        ScanAccess::Own(lock) => {
            outbox::adopt(&state, &routes).map_err(|e| e.to_string())?;
            Some(lock)
        }
        ScanAccess::Daemon(holder) => {
            tracing::warn!(
                "newswatch {} (pid {}) holds {}: this fetch records its alerts there and leaves their delivery to it",
                holder.command,
                holder.pid,
                state_path.display()
            );
            None
        }
    };
    let silences = state.active_silences().map_err(|e| e.to_string())?;
    let throttle = config.throttle.throttle();
    let rows = sync(&mut state, &feeds).map_err(|e| e.to_string())?;

    let metrics = Arc::new(Metrics::new());
    let (sink, polls) = mpsc::channel();
    let polling = {
        let metrics = metrics.clone();
        std::thread::Builder::new()
            .name("newswatch-fetch".into())
            .spawn(move || crate::feeds::poll_once(feeds, rows, sink, metrics))
            .map_err(|e| format!("cannot start the poller: {e}"))?
    };
    let mut scanner = rules.scanner();
    let (mut alerts, mut ok, mut failed, mut trouble) = (0, 0, 0, false);
    let mut rule_errors: HashMap<String, usize> = HashMap::new();
    // Each poll is evaluated and recorded as it comes in, while the others are made.
    for polled in polls {
        let o = intake(&state, &mut scanner, polled, &metrics);
        if o.poll.ok {
            ok += 1;
        } else {
            failed += 1;
        }
        let recorded = state.batch(|s| {
            record(s, &o, &throttle, &silences, |a| {
                let accepting = routes.iter().filter(|r| r.filter.accepts(a));
                accepting.map(|r| r.key.as_str()).collect()
            })
        });
        match recorded {
            Ok(r) => {
                alerts += r.iter().filter(|r| **r != Recorded::Duplicate).count();
                log(&o, &r);
            }
            Err(e) => {
                tracing::error!("{e}");
                trouble = true;
            }
        }
        for e in &o.rule_errors {
            *rule_errors.entry(e.rule.clone()).or_default() += 1;
            if rule_errors[&e.rule] <= 3 {
                tracing::error!("{e} (on feed {})", o.shown);
            }
        }
    }
    let once = polling
        .join()
        .map_err(|_| "the poller stopped unexpectedly".to_string())?
        .map_err(|e| format!("cannot start the poller: {e}"))?;
    for (feed, until) in &once.held {
        tracing::info!(
            "feed {}: not polled: after its last failures it waits until {}",
            feed.shown,
            crate::time::rfc3339_ms(*until)
        );
    }
    if lock.is_some() {
        let stop = std::sync::atomic::AtomicBool::new(false);
        let policy = config.retry.policy();
        for route in &mut routes {
            match outbox::drain(&state, &route.key, route.output.as_mut(), &policy, &stop) {
                Ok(outbox::Drained::WaitingUntil(_)) => tracing::warn!(
                    "output {}: deliveries wait for a retry: the next fetch (or the daemon) makes them",
                    route.name()
                ),
                Ok(_) => {}
                Err(e) => {
                    tracing::error!("{e}");
                    trouble = true;
                }
            }
        }
    }
    tracing::info!(
        "{} feed(s) polled ({ok} ok, {failed} failed), {} waiting, {alerts} alert(s)",
        once.polled,
        once.held.len()
    );
    Ok(if trouble || (ok == 0 && failed > 0) {
        TROUBLE
    } else if alerts > 0 {
        FOUND
    } else {
        NOT_FOUND
    })
}
