//! What the daemon has done, as counters for `GET /metrics`, and whether it is alive and ready,
//! for `GET /healthz` and `GET /readyz`: the optional HTTP endpoint (`http:` in the config,
//! served by [`http`]).
//!
//! One [`Metrics`] is made per daemon and shared by `Arc` with the workers, the delivery threads
//! and the loop. Every update is an atomic add on a counter of the Prometheus project's client
//! (`prometheus-client`), under a read lock of its family's label map — so that counting costs
//! the hot paths next to nothing, and a scrape never waits for them nor they for it. The
//! metrics are always counted, endpoint or not: it is cheaper than asking each time.
//!
//! What each metric counts is documented once, in `docs/config.md` (`http`), and by the
//! `# HELP` lines of the exposition; the label values of each fixed set are registered at the
//! start, so that a count is `0`, not missing, until the first event (which `rate()` needs).

pub mod http;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use newswatch_engine::rules::Evaluation;

pub use http::{HttpError, serve};

/// What became of an article (one file, or one item of a feed or of a JSON Lines file): each is
/// counted once, under one of these, in `newswatch_articles_total{result}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArticleResult {
    /// Read and run through the rules (whether or not they raised alerts or failed).
    Evaluated,
    /// Not evaluated on purpose: over `max_file_size`, binary, holding no article, or recorded
    /// without evaluation under `startup: skip`. Counts the file once.
    Skipped,
    /// Could not be read, parsed, or evaluated as a whole. A file counts once.
    Failed,
    /// Read again after a change of its size or mtime, with the content already evaluated
    /// (same SHA-256): not evaluated again. Counts the file once.
    Unchanged,
}

impl ArticleResult {
    const ALL: [ArticleResult; 4] = [
        ArticleResult::Evaluated,
        ArticleResult::Skipped,
        ArticleResult::Failed,
        ArticleResult::Unchanged,
    ];

    fn as_str(self) -> &'static str {
        match self {
            ArticleResult::Evaluated => "evaluated",
            ArticleResult::Skipped => "skipped",
            ArticleResult::Failed => "failed",
            ArticleResult::Unchanged => "unchanged",
        }
    }
}

/// Why an alert a rule raised is not delivered: `newswatch_alerts_suppressed_total{reason}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Suppression {
    /// Its id was recorded before (the same article again, under another name or a feed
    /// downloaded again): not recorded again.
    Duplicate,
    /// Recorded inside its rule's `throttle` window.
    Throttled,
    /// Recorded under a silence (`newswatch silence`).
    Silenced,
    /// Recorded as a later copy of a story its rule already alerted on (`duplicate_of`).
    SameStory,
}

impl Suppression {
    const ALL: [Suppression; 4] = [
        Suppression::Duplicate,
        Suppression::Throttled,
        Suppression::Silenced,
        Suppression::SameStory,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Suppression::Duplicate => "duplicate",
            Suppression::Throttled => "throttled",
            Suppression::SameStory => "same_story",
            Suppression::Silenced => "silenced",
        }
    }
}

/// What one delivery attempt came to: `newswatch_deliveries_total{output,result}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryResult {
    Delivered,
    /// Failed, and may succeed later: retried (or given up after `retry.give_up_after`).
    TransientFailure,
    /// Failed for good (a permanent failure): marked `failed`, not retried.
    Failed,
}

impl DeliveryResult {
    fn as_str(self) -> &'static str {
        match self {
            DeliveryResult::Delivered => "delivered",
            DeliveryResult::TransientFailure => "transient_failure",
            DeliveryResult::Failed => "failed",
        }
    }
}

/// The buckets of `newswatch_rule_eval_seconds`, 100 µs to 3 s in steps of about ×3: a few
/// prefiltered rules take well under 1 ms, a thousand rules on a long page tens of ms, and a
/// rule near its limits 250 ms. Written out: computed ones print as `0.00030000000000000003`.
const EVAL_BUCKETS: [f64; 10] = [0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0];

/// What one poll of a feed came to: `newswatch_feed_fetches_total{result}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeedFetch {
    /// The feed was read (a 2xx answer holding a feed).
    Fetched,
    /// Unchanged since the last poll (304).
    NotModified,
    /// No answer, an HTTP error, a redirect loop, over `max_size`, or not a feed.
    Failed,
}

impl FeedFetch {
    const ALL: [FeedFetch; 3] = [
        FeedFetch::Fetched,
        FeedFetch::NotModified,
        FeedFetch::Failed,
    ];

    fn as_str(self) -> &'static str {
        match self {
            FeedFetch::Fetched => "fetched",
            FeedFetch::NotModified => "not_modified",
            FeedFetch::Failed => "failed",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RuleLabel {
    rule: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SeverityLabel {
    severity: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutputLabel {
    output: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    output: String,
    result: &'static str,
}

/// How long the daemon's loop may go without a turn before `/healthz` says it is stuck. The
/// loop turns at least every 50 ms when idle; a long commit on a slow disk must not look dead
/// (a supervisor would restart a daemon that is only busy).
pub const HEARTBEAT_STALE: Duration = Duration::from_secs(30);

/// The daemon's metrics and health, shared by every thread that counts.
pub struct Metrics {
    registry: Registry,
    articles: Family<ResultLabel, Counter>,
    rule_matches: Family<RuleLabel, Counter>,
    rule_errors: Family<RuleLabel, Counter>,
    rule_eval: Histogram,
    alerts: Family<SeverityLabel, Counter>,
    suppressed: Family<ReasonLabel, Counter>,
    deliveries: Family<DeliveryLabels, Counter>,
    outbox_pending: Family<OutputLabel, Gauge>,
    rules_loaded: Gauge,
    feed_fetches: Family<ResultLabel, Counter>,
    health: Health,
}

/// What `/healthz` and `/readyz` answer from.
struct Health {
    /// The clock of [`Health::beat_ms`].
    started: Instant,
    /// When the loop last turned, in ms since `started`.
    beat_ms: AtomicU64,
    rules_loaded: AtomicBool,
    state_writable: AtomicBool,
}

/// The answer of a health check: whether it passes, and a line for a person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    pub ok: bool,
    pub message: String,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("newswatch");
        let m = Metrics {
            articles: Family::default(),
            rule_matches: Family::default(),
            rule_errors: Family::default(),
            rule_eval: Histogram::new(EVAL_BUCKETS),
            alerts: Family::default(),
            suppressed: Family::default(),
            deliveries: Family::default(),
            outbox_pending: Family::default(),
            rules_loaded: Gauge::default(),
            feed_fetches: Family::default(),
            health: Health {
                started: Instant::now(),
                beat_ms: AtomicU64::new(0),
                rules_loaded: AtomicBool::new(false),
                state_writable: AtomicBool::new(false),
            },
            registry: Registry::default(),
        };
        // Each series of a fixed set is made now, at 0 (the guard returned is not needed).
        for r in ArticleResult::ALL {
            let _ = m
                .articles
                .get_or_create(&ResultLabel { result: r.as_str() });
        }
        for r in Suppression::ALL {
            let _ = m
                .suppressed
                .get_or_create(&ReasonLabel { reason: r.as_str() });
        }
        for s in newswatch_engine::alert::Severity::ALL {
            let _ = m.alerts.get_or_create(&SeverityLabel {
                severity: s.as_str(),
            });
        }
        for r in FeedFetch::ALL {
            let _ = m
                .feed_fetches
                .get_or_create(&ResultLabel { result: r.as_str() });
        }
        // Counters are named without `_total`: the client appends it, as OpenMetrics has it.
        registry.register(
            "articles",
            "Articles looked at, each once, by what became of it (evaluated, skipped, failed, unchanged)",
            m.articles.clone(),
        );
        registry.register(
            "rule_matches",
            "Articles on which a rule raised at least one alert",
            m.rule_matches.clone(),
        );
        registry.register(
            "rule_errors",
            "Runs of a rule on an article that failed (an error, or a limit reached)",
            m.rule_errors.clone(),
        );
        registry.register(
            "rule_eval_seconds",
            "Time to run all the rules on one article (per rule is not measured)",
            m.rule_eval.clone(),
        );
        registry.register(
            "alerts",
            "Alerts raised by rules, by severity, whether delivered or suppressed",
            m.alerts.clone(),
        );
        registry.register(
            "alerts_suppressed",
            "Alerts raised and not delivered: duplicate (id seen before), throttled, silenced",
            m.suppressed.clone(),
        );
        registry.register(
            "deliveries",
            "Delivery attempts per output: delivered, transient_failure (retried), failed (for good)",
            m.deliveries.clone(),
        );
        registry.register(
            "outbox_pending",
            "Deliveries waiting in an output's queue, as its delivery thread last saw",
            m.outbox_pending.clone(),
        );
        registry.register(
            "rules_loaded",
            "Rules in force (compiled and loaded)",
            m.rules_loaded.clone(),
        );
        registry.register(
            "feed_fetches",
            "Polls of feeds by result (fetched, not_modified, failed)",
            m.feed_fetches.clone(),
        );
        Metrics { registry, ..m }
    }

    /// Counts `n` articles under `result`.
    pub fn articles(&self, result: ArticleResult, n: u64) {
        self.articles
            .get_or_create(&ResultLabel {
                result: result.as_str(),
            })
            .inc_by(n);
    }

    /// Counts one article run through the rules in `took`: its result, which rules matched and
    /// failed, and the alerts they raised.
    pub fn evaluated(&self, eval: &Evaluation, took: Duration) {
        self.articles(ArticleResult::Evaluated, 1);
        self.rule_eval.observe(took.as_secs_f64());
        // Alerts come grouped by rule: a rule that raised several counts one match.
        let mut last: Option<&str> = None;
        for alert in &eval.alerts {
            if last != Some(alert.rule.as_str()) {
                self.rule(&self.rule_matches, &alert.rule);
                last = Some(alert.rule.as_str());
            }
            self.alerts
                .get_or_create(&SeverityLabel {
                    severity: alert.severity.as_str(),
                })
                .inc();
        }
        for e in &eval.errors {
            self.rule(&self.rule_errors, &e.rule);
        }
    }

    fn rule(&self, family: &Family<RuleLabel, Counter>, rule: &str) {
        let label = RuleLabel {
            rule: rule.to_string(),
        };
        family.get_or_create(&label).inc();
    }

    /// Counts an alert raised and not delivered, for `reason`.
    pub fn suppressed(&self, reason: Suppression) {
        self.suppressed
            .get_or_create(&ReasonLabel {
                reason: reason.as_str(),
            })
            .inc();
    }

    /// Counts one poll of a feed.
    pub fn feed_fetch(&self, result: FeedFetch) {
        self.feed_fetches
            .get_or_create(&ResultLabel {
                result: result.as_str(),
            })
            .inc();
    }

    /// Counts one delivery attempt to the output named `output`.
    pub fn delivery(&self, output: &str, result: DeliveryResult) {
        self.deliveries
            .get_or_create(&DeliveryLabels {
                output: output.to_string(),
                result: result.as_str(),
            })
            .inc();
    }

    /// Sets the deliveries waiting for `output`.
    pub fn outbox_pending(&self, output: &str, pending: u64) {
        self.outbox_pending
            .get_or_create(&OutputLabel {
                output: output.to_string(),
            })
            .set(i64::try_from(pending).unwrap_or(i64::MAX));
    }

    /// Drops the pending gauge of an output whose delivery thread ended (it left the config).
    pub fn output_gone(&self, output: &str) {
        self.outbox_pending.remove(&OutputLabel {
            output: output.to_string(),
        });
    }

    /// A rule set of `n` rules is in force (at the start, or after a reload): the daemon is
    /// ready as far as rules go.
    pub fn rules_loaded(&self, n: usize) {
        self.rules_loaded.set(i64::try_from(n).unwrap_or(i64::MAX));
        self.health.rules_loaded.store(true, Ordering::Relaxed);
    }

    /// Whether the last write to the state store succeeded (opening it, recording files and
    /// alerts): `/readyz` fails while it does not.
    pub fn state_writable(&self, ok: bool) {
        self.health.state_writable.store(ok, Ordering::Relaxed);
    }

    /// The daemon's loop turned: it is alive.
    pub fn beat(&self) {
        let now = self.health.started.elapsed().as_millis() as u64;
        self.health.beat_ms.store(now, Ordering::Relaxed);
    }

    /// `/healthz`: passes while the loop turned within [`HEARTBEAT_STALE`] (or the daemon is
    /// still starting, which is as long ago as the first turn may take).
    pub fn liveness(&self) -> Check {
        let now = self.health.started.elapsed();
        let beat = Duration::from_millis(self.health.beat_ms.load(Ordering::Relaxed));
        let age = now.saturating_sub(beat);
        if age <= HEARTBEAT_STALE {
            Check {
                ok: true,
                message: "ok".into(),
            }
        } else {
            Check {
                ok: false,
                message: format!("stuck: the daemon's loop last ran {}s ago", age.as_secs()),
            }
        }
    }

    /// `/readyz`: passes once the rules are loaded and while the state store is writable.
    pub fn readiness(&self) -> Check {
        let rules = self.health.rules_loaded.load(Ordering::Relaxed);
        let state = self.health.state_writable.load(Ordering::Relaxed);
        let message = match (rules, state) {
            (true, true) => "ready",
            (false, _) => "not ready: the rules are not loaded yet",
            (true, false) => "not ready: the state store cannot be written",
        };
        Check {
            ok: rules && state,
            message: message.into(),
        }
    }

    /// The exposition of every metric, in the OpenMetrics text format (which Prometheus reads:
    /// the content type is [`CONTENT_TYPE`]).
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

/// The content type of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_label_values_are_zero_from_the_start() {
        let m = Metrics::new();
        let text = m.render();
        for line in [
            "newswatch_articles_total{result=\"evaluated\"} 0",
            "newswatch_articles_total{result=\"unchanged\"} 0",
            "newswatch_alerts_suppressed_total{reason=\"silenced\"} 0",
            "newswatch_alerts_total{severity=\"critical\"} 0",
            "newswatch_feed_fetches_total{result=\"failed\"} 0",
            "newswatch_rules_loaded 0",
            "newswatch_rule_eval_seconds_count 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn readiness_needs_rules_and_a_writable_state() {
        let m = Metrics::new();
        assert!(m.liveness().ok);
        assert!(!m.readiness().ok);
        m.rules_loaded(3);
        assert!(!m.readiness().ok, "the state is not known writable yet");
        m.state_writable(true);
        assert!(m.readiness().ok);
        m.state_writable(false);
        assert_eq!(
            m.readiness().message,
            "not ready: the state store cannot be written"
        );
    }

    #[test]
    fn label_values_are_escaped() {
        let m = Metrics::new();
        m.delivery("webhook \"x\"\\n", DeliveryResult::Delivered);
        let text = m.render();
        assert!(
            text.contains(
                r#"newswatch_deliveries_total{output="webhook \"x\"\\n",result="delivered"} 1"#
            ),
            "{text}"
        );
    }
}
