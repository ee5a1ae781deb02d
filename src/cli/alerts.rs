//! `newswatch alerts`: the alert history from the state store.

use std::path::PathBuf;

use super::Format;
use super::print::AlertPrinter;
use crate::config::parse_duration;
use crate::state::State;

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
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Config file (default: ./newswatch.yaml if present), for its `state:`.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

pub(crate) fn run(args: Args) -> u8 {
    let (config, _) = match super::load_config(args.config.as_ref()) {
        Ok(loaded) => loaded,
        Err(e) => {
            tracing::error!("{e}");
            return 2;
        }
    };
    let path = super::watch::state_path(args.state, &config);
    if !path.exists() {
        tracing::error!(
            "state {}: no such file (has `newswatch watch` or `scan --state` run yet?)",
            path.display()
        );
        return 2;
    }
    let since = args.since.map(|d| {
        let t = jiff::Timestamp::now()
            - jiff::SignedDuration::try_from(d).unwrap_or(jiff::SignedDuration::MAX);
        t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
    });
    let alerts = State::open(&path).and_then(|s| s.alerts(since.as_deref(), args.rule.as_deref()));
    let alerts = match alerts {
        Ok(alerts) => alerts,
        Err(e) => {
            tracing::error!("{e}");
            return 2;
        }
    };
    let mut printer = AlertPrinter::new(args.format);
    for alert in &alerts {
        if printer.print(alert).is_err() {
            return 0;
        }
    }
    let _ = printer.flush();
    0
}
