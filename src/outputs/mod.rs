//! Outputs: where alerts go once they are recorded.
//!
//! An [`Output`] is a destination (stdout, a JSON Lines file, …); a [`Route`] is an output with
//! the [`Filter`] of its config entry (`min_severity`, `rules`, `tags`), its name and the key of
//! its queue ([`identity`]). Outputs know alerts, not rules, articles or the state store: the
//! caller records an alert first, then offers it to every route.

mod command;
mod desktop;
mod digest;
mod file;
pub mod nats;
mod stdout;
mod webhook;

use globset::GlobSet;

use newswatch_engine::alert::{Alert, Severity};

pub use command::CommandOutput;
pub(crate) use command::kill_running;
pub use desktop::DesktopOutput;
pub use digest::{Digest, Schedule};
pub use file::FileOutput;
pub use nats::{NatsOutput, NatsTarget, check_nats_url};
pub use stdout::StdoutOutput;
pub use webhook::{WebhookOutput, check_url as check_webhook_url};

/// Why a delivery failed, and whether it may succeed later: the outbox retries a transient
/// failure with backoff and marks a permanent one `failed` at once, so that the queue goes on.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// May succeed later (a timeout, a refused connection, HTTP 5xx, 408 or 429, a command
    /// killed by its timeout or exiting with another code): offered again after a backoff, not
    /// before `retry_after` when the receiver asked for that (`Retry-After`).
    #[error("{message}")]
    Transient {
        message: String,
        retry_after: Option<std::time::Duration>,
    },
    /// Can never succeed as things are (HTTP 4xx other than 408 and 429, a command that cannot
    /// be started or exits with one of its `permanent_exit_codes`): not offered again.
    #[error("{message}")]
    Permanent { message: String },
}

impl DeliveryError {
    /// A failure that may go away: retried.
    pub fn transient(message: impl Into<String>) -> DeliveryError {
        DeliveryError::Transient {
            message: message.into(),
            retry_after: None,
        }
    }

    /// A failure that will not go away: the delivery is `failed`.
    pub fn permanent(message: impl Into<String>) -> DeliveryError {
        DeliveryError::Permanent {
            message: message.into(),
        }
    }

    pub fn is_permanent(&self) -> bool {
        matches!(self, DeliveryError::Permanent { .. })
    }

    /// How long the receiver asked to be left alone, if it did.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            DeliveryError::Transient { retry_after, .. } => *retry_after,
            DeliveryError::Permanent { .. } => None,
        }
    }
}

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
    /// output can tell (written and flushed, accepted by the receiver); `Err` means it did not,
    /// and says whether it may succeed later ([`DeliveryError::Transient`]: the same alert is
    /// offered again) or never will ([`DeliveryError::Permanent`]).
    fn deliver(&mut self, alert: &Alert) -> Result<(), DeliveryError>;

    /// Delivers one digest: the period's alerts in one message (`{"digest": {"from", "to"},
    /// "alerts": [...]}` where the output takes JSON). As [`Output::deliver`] otherwise.
    fn deliver_digest(&mut self, digest: &Digest) -> Result<(), DeliveryError>;

    /// The digest schedule this output delivers on instead of each alert, if any.
    fn digest_schedule(&self) -> Option<&Schedule> {
        None
    }
}

/// An output that delivers digests on `schedule` (its config's `digest:`).
pub(crate) struct Digesting {
    pub schedule: Schedule,
    pub output: Box<dyn Output>,
}

impl Output for Digesting {
    fn name(&self) -> &str {
        self.output.name()
    }

    fn deliver(&mut self, alert: &Alert) -> Result<(), DeliveryError> {
        self.output.deliver(alert)
    }

    fn deliver_digest(&mut self, digest: &Digest) -> Result<(), DeliveryError> {
        self.output.deliver_digest(digest)
    }

    fn digest_schedule(&self) -> Option<&Schedule> {
        Some(&self.schedule)
    }
}

/// Which alerts an output receives.
#[derive(Debug, Default)]
pub struct Filter {
    min_severity: Option<Severity>,
    rules: Option<GlobSet>,
    tags: Vec<String>,
}

impl Filter {
    /// Passes alerts at least as severe as `min_severity`, of rules matching `rules`, with one
    /// of `tags` (each condition only when given).
    pub fn new(
        min_severity: Option<Severity>,
        rules: Option<GlobSet>,
        tags: Vec<String>,
    ) -> Filter {
        Filter {
            min_severity,
            rules,
            tags,
        }
    }

    /// Whether `alert` passes: severe enough, of a listed rule, with a listed tag (each
    /// condition only when configured).
    pub fn accepts(&self, alert: &Alert) -> bool {
        self.min_severity.is_none_or(|min| alert.severity >= min)
            && self.rules.as_ref().is_none_or(|g| g.is_match(&alert.rule))
            && (self.tags.is_empty() || alert.tags.iter().any(|t| self.tags.contains(t)))
    }
}

/// Why outputs cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// A problem of the config entry, as `newswatch check` reports it.
    #[error("{0}")]
    Config(String),
    #[error("a command output needs `command: [program, args…]`")]
    NoCommand,
    #[error("{0}")]
    Url(String),
    /// The file of a `file` output cannot be opened (the message names it).
    #[error("{0}")]
    File(#[source] std::io::Error),
    #[error(
        "desktop notifications are unavailable ({0}): no D-Bus session bus or notification \
         server; run newswatch inside a desktop session or remove the desktop output"
    )]
    NoDesktop(String),
    #[error("rules: {0}")]
    Rules(#[from] globset::Error),
    /// One of the above, for the entry at `at` in the config (`outputs[2]`).
    #[error("{at}: {source}")]
    At {
        at: String,
        #[source]
        source: Box<OutputError>,
    },
}

/// The commands report errors as text (`Result<_, String>`): `?` gives them this one's.
impl From<OutputError> for String {
    fn from(e: OutputError) -> String {
        e.to_string()
    }
}

/// An output, the filter of its config entry, and its queue in the outbox. Built from the
/// config by `config::routes`.
pub struct Route {
    /// The key of its queue: stable across restarts for the same config, different for any
    /// other (a hash of its whole configuration), never shown. Two routes never share one.
    pub key: String,
    /// The key an older newswatch gave its queue, its name then (`webhook http://…`, with a
    /// `#N` suffix for a repeat): to carry such queues over to `key`, once, after an upgrade.
    pub(crate) legacy_key: String,
    /// Named as the route is (see [`Route::name`]).
    pub output: Box<dyn Output>,
    pub filter: Filter,
}

impl Route {
    /// What logs and `newswatch alerts` call the output: its `name:`, else its type and target
    /// as written; `#N` (its place in the config) follows a name an earlier output has.
    pub fn name(&self) -> &str {
        self.output.name()
    }
}

/// An output shown under another name than its own.
pub(crate) struct Named {
    pub name: String,
    pub output: Box<dyn Output>,
}

impl Output for Named {
    fn name(&self) -> &str {
        &self.name
    }

    fn deliver(&mut self, alert: &Alert) -> Result<(), DeliveryError> {
        self.output.deliver(alert)
    }

    fn deliver_digest(&mut self, digest: &Digest) -> Result<(), DeliveryError> {
        self.output.deliver_digest(digest)
    }

    fn digest_schedule(&self) -> Option<&Schedule> {
        self.output.digest_schedule()
    }
}
