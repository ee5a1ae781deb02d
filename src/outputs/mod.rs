//! Outputs: where alerts go once they are recorded.
//!
//! An [`Output`] is a destination (stdout, a JSON Lines file, …); a [`Route`] is an output with
//! the [`Filter`] of its config entry (`min_severity`, `rules`, `tags`). Outputs know alerts,
//! not rules, articles or the state store: the caller records an alert first, then offers it
//! to every route.

mod command;
mod desktop;
mod file;
mod stdout;
mod webhook;

use std::fmt;

use globset::{GlobSet, GlobSetBuilder};

use crate::config::{KeyPath, OutputConfig, OutputKind};
use newswatch_engine::alert::{Alert, Severity};

pub use command::CommandOutput;
pub(crate) use command::kill_running;
pub use desktop::DesktopOutput;
pub use file::FileOutput;
pub use stdout::StdoutOutput;
pub use webhook::WebhookOutput;

/// Why a delivery failed; the alert may be offered again later.
#[derive(Debug)]
pub struct DeliveryError(pub String);

impl fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DeliveryError {}

/// A destination for alerts.
///
/// The model is at-least-once delivery of alerts with stable ids: an output is offered each
/// alert once it is recorded, in the order alerts were raised, from one thread at a time. It
/// need not deduplicate — the state store already did — but it may be offered an alert again
/// after a failure or a crash, and receivers can drop repeats by `id`.
pub trait Output: Send {
    /// A short name for logs, e.g. `file alerts.jsonl`.
    fn name(&self) -> &str;

    /// Delivers one alert. `Ok` means the alert reached the destination as durably as this
    /// output can tell (written and flushed, accepted by the receiver); `Err` means it did not
    /// and the same alert may be offered again.
    fn deliver(&mut self, alert: &Alert) -> Result<(), DeliveryError>;
}

/// Which alerts an output receives.
#[derive(Debug, Default)]
pub struct Filter {
    min_severity: Option<Severity>,
    rules: Option<GlobSet>,
    tags: Vec<String>,
}

impl Filter {
    /// Whether `alert` passes: severe enough, of a listed rule, with a listed tag (each
    /// condition only when configured).
    pub fn accepts(&self, alert: &Alert) -> bool {
        self.min_severity.is_none_or(|min| alert.severity >= min)
            && self.rules.as_ref().is_none_or(|g| g.is_match(&alert.rule))
            && (self.tags.is_empty() || alert.tags.iter().any(|t| self.tags.contains(t)))
    }
}

/// An output, the filter of its config entry, and its key in the outbox.
pub struct Route {
    /// Stable across restarts for the same config entry, so queued deliveries find their
    /// output again: the type and its target (`file alerts.jsonl`, `webhook http://…`).
    pub key: String,
    pub output: Box<dyn Output>,
    pub filter: Filter,
}

/// Builds the routes of `configs`; with none configured, alerts go to stdout.
///
/// Each config is checked first with [`OutputConfig::problems`], the checks `newswatch check`
/// runs, so what is left to fail here is only what needs the outside world (a file that cannot
/// be created, no desktop session).
pub fn build(configs: &[OutputConfig]) -> Result<Vec<Route>, String> {
    if configs.is_empty() {
        return Ok(vec![Route {
            key: "stdout".into(),
            output: Box::new(StdoutOutput::new()),
            filter: Filter::default(),
        }]);
    }
    let mut routes: Vec<Route> = Vec::new();
    for (i, c) in configs.iter().enumerate() {
        let at = KeyPath::default().key("outputs").index(i);
        if let Some(problem) = c.problems(&at).into_iter().next() {
            return Err(problem.to_string());
        }
        let mut route = build_one(c).map_err(|e| format!("{at}: {e}"))?;
        if routes.iter().any(|r| r.key == route.key) {
            // Two entries for one target (e.g. with different filters) queue apart.
            route.key = format!("{} #{i}", route.key);
        }
        routes.push(route);
    }
    Ok(routes)
}

/// Builds one output whose config has no problems.
fn build_one(config: &OutputConfig) -> Result<Route, String> {
    const CHECKED: &str = "checked by OutputConfig::problems";
    let output: Box<dyn Output> = match config.kind {
        OutputKind::Stdout => Box::new(StdoutOutput::new()),
        OutputKind::File => {
            let path = config.path.as_ref().expect(CHECKED);
            Box::new(FileOutput::open(path).map_err(|e| e.to_string())?)
        }
        OutputKind::Command => Box::new(CommandOutput::new(
            config.command.clone().unwrap_or_default(),
            config.timeout,
        )?),
        OutputKind::Webhook => Box::new(WebhookOutput::new(
            config.url.as_deref().expect(CHECKED),
            config.url_as_written.as_deref(),
            config.headers.clone(),
            config.timeout,
        )?),
        OutputKind::Desktop => Box::new(DesktopOutput::new()?),
    };
    let rules = if config.rules.is_empty() {
        None
    } else {
        let mut set = GlobSetBuilder::new();
        for pattern in &config.rules {
            set.add(crate::config::glob(pattern).expect(CHECKED));
        }
        Some(set.build().map_err(|e| format!("rules: {e}"))?)
    };
    Ok(Route {
        key: output.name().to_string(),
        output,
        filter: Filter {
            min_severity: config.min_severity,
            rules,
            tags: config.tags.clone(),
        },
    })
}
