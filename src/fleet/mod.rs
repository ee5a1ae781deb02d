//! Beyond one machine: a fleet of workers around a NATS JetStream server.
//!
//! ```text
//!  newswatch publish ──► stream NEWSWATCH_ARTICLES ──► durable pull consumer "newswatch"
//!  (or any client:        (newswatch.articles,          shared by every worker
//!   Newswatch-Name,        file storage, work queue,           │
//!   Nats-Msg-Id=sha256)    20 min duplicate window)            ▼
//!                                              newswatch consume (× N, any machines)
//!                                              fetch a batch → evaluate on every core
//!                                              → publish each alert, await its ack
//!                                              → then ack the article
//!                                                              │
//!                               stream NEWSWATCH_ALERTS ◄──────┘
//!                               (newswatch.alerts.RULE, Nats-Msg-Id = alert id)
//! ```
//!
//! Delivery is at least once: an article is acked only after the server has stored every alert
//! it raised, so a worker killed at any point loses nothing — its unacked articles are delivered
//! again after `ack_wait` — and what it had already published is dropped by the alerts
//! stream's duplicate window (same `Nats-Msg-Id`), or by a receiver that drops repeated ids.
//! Alerts carry nothing that differs between workers: their time is the article's time in the
//! stream, their path and source are the message's headers.
//!
//! No clustering of our own: scaling out is JetStream's (more workers on one consumer; a
//! clustered server with replicas; streams split by subject). The async runtime lives here and
//! in the `nats` output only; the engine stays synchronous (one scanner per thread).

mod consume;
mod pool;
mod publish;
mod rules;
mod stream;

use std::path::PathBuf;
use std::time::Duration;

use crate::config::NatsConfig;
pub use consume::consume;
pub use publish::publish;

/// Everything a worker or a publisher needs to reach its server, streams and consumer: the
/// config's `nats:` with the command line's flags applied.
#[derive(Clone, Debug)]
pub struct Settings {
    pub url: String,
    pub credentials: Option<PathBuf>,
    pub stream: String,
    pub subject: String,
    pub durable: String,
    pub alerts_subject: String,
    pub alerts_stream: String,
    pub ack_wait: Duration,
    pub max_deliver: i64,
    pub max_ack_pending: i64,
    pub batch: usize,
    /// The longest wait for a JetStream answer (a publish acknowledgement, an API request).
    pub timeout: Duration,
}

impl Settings {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

    /// The settings of `config` (its defaults if absent) with the server at `url`.
    pub fn new(config: Option<&NatsConfig>, url: String) -> Settings {
        let default = NatsConfig::default();
        let c = config.unwrap_or(&default);
        Settings {
            url,
            credentials: c.credentials.clone(),
            stream: c.stream.clone(),
            subject: c.subject.clone(),
            durable: c.durable.clone(),
            alerts_subject: c.alerts_subject.clone(),
            alerts_stream: c.alerts_stream.clone(),
            ack_wait: c.ack_wait,
            max_deliver: c.max_deliver,
            max_ack_pending: c.max_ack_pending,
            batch: c.batch,
            timeout: c.timeout.unwrap_or(Settings::DEFAULT_TIMEOUT),
        }
    }
}

/// The header naming an article's file (`NAME.ext`): its format, and its `path` in alerts.
pub const NAME_HEADER: &str = "Newswatch-Name";
/// The header naming where an article came from (the folder it was found in): its `source`.
pub const SOURCE_HEADER: &str = "Newswatch-Source";
