//! `nats:` — where a fleet of workers finds its NATS JetStream server, streams and consumer
//! (`newswatch publish` and `newswatch consume`; see `src/fleet`). Every key is optional; the
//! command line's `--nats`, `--stream`, `--durable`, `--alerts-subject` and `--subject`
//! override them.
//!
//! Nothing here connects anywhere: the URL is only parsed, so `newswatch check` stays harmless.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::quantity::{duration, opt_duration};
use super::validate::{Problem, Section, expand, expand_path};
use super::yaml::KeyPath;

/// The `nats:` section, with the defaults of DESIGN.md filled in.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NatsConfig {
    /// The server(s): `nats://host:4222`, `tls://…`, or several separated by commas. No
    /// default: `--nats URL` or this key.
    pub url: Option<String>,
    /// The stream articles are published to and consumed from.
    pub stream: String,
    /// The subject articles are published on.
    pub subject: String,
    /// The durable pull consumer every worker shares.
    pub durable: String,
    /// Alerts go to `ALERTS_SUBJECT.RULE`.
    pub alerts_subject: String,
    /// The stream that holds the alerts (created for `ALERTS_SUBJECT.>` when missing).
    pub alerts_stream: String,
    /// A NATS credentials file (`.creds`: JWT and NKey seed), for servers that ask for one.
    pub credentials: Option<PathBuf>,
    /// How long the server waits for a worker's ack before it redelivers an article (at most
    /// 30 s; workers send progress acks for an article that takes longer).
    #[serde(deserialize_with = "duration")]
    pub ack_wait: Duration,
    /// How many times an article is delivered before the server gives it up.
    pub max_deliver: i64,
    /// How many articles the consumer lets all workers hold unacked at once.
    pub max_ack_pending: i64,
    /// How many articles a worker asks for at a time.
    pub batch: usize,
    /// How long a publish or a JetStream request may wait for the server's answer.
    #[serde(deserialize_with = "opt_duration")]
    pub timeout: Option<Duration>,
}

impl NatsConfig {
    /// The longest `ack_wait`: a dead worker's articles are redelivered within a minute.
    pub const MAX_ACK_WAIT: Duration = Duration::from_secs(30);
    /// The most deliveries of one article: keeps the redelivery span under the streams'
    /// duplicate window (see `fleet::stream`).
    pub const MAX_DELIVER: i64 = 10;
}

impl Default for NatsConfig {
    fn default() -> NatsConfig {
        NatsConfig {
            url: None,
            stream: "NEWSWATCH_ARTICLES".into(),
            subject: "newswatch.articles".into(),
            durable: "newswatch".into(),
            alerts_subject: "newswatch.alerts".into(),
            alerts_stream: "NEWSWATCH_ALERTS".into(),
            credentials: None,
            ack_wait: NatsConfig::MAX_ACK_WAIT,
            max_deliver: 5,
            max_ack_pending: 10_000,
            batch: 256,
            timeout: None,
        }
    }
}

impl Section for Option<NatsConfig> {
    fn validate(&mut self, at: &KeyPath) -> Vec<Problem> {
        let Some(nats) = self else {
            return Vec::new();
        };
        let mut problems = Vec::new();
        if let Some(url) = &mut nats.url
            && expand(url, &at.key("url"), &mut problems)
            && let Err(e) = crate::outputs::check_nats_url(url)
        {
            problems.push(Problem::new(at.key("url"), e));
        }
        if let Some(path) = &mut nats.credentials {
            expand_path(path, &at.key("credentials"), &mut problems);
        }
        for (key, value) in [
            ("stream", &nats.stream),
            ("alerts_stream", &nats.alerts_stream),
        ] {
            if let Err(e) = check_stream_name(value) {
                problems.push(Problem::new(at.key(key), e));
            }
        }
        if let Err(e) = check_stream_name(&nats.durable) {
            problems.push(Problem::new(
                at.key("durable"),
                e.replace("stream", "consumer"),
            ));
        }
        for (key, value) in [
            ("subject", &nats.subject),
            ("alerts_subject", &nats.alerts_subject),
        ] {
            if let Err(e) = check_subject(value) {
                problems.push(Problem::new(at.key(key), e));
            }
        }
        if nats.ack_wait.is_zero() || nats.ack_wait > NatsConfig::MAX_ACK_WAIT {
            problems.push(Problem::new(
                at.key("ack_wait"),
                "must be more than 0 and at most 30s, so that a dead worker's articles come back within a minute (slow articles are kept with progress acks)",
            ));
        }
        if !(2..=NatsConfig::MAX_DELIVER).contains(&nats.max_deliver) {
            problems.push(Problem::new(
                at.key("max_deliver"),
                format!(
                    "must be from 2 to {} (an article delivered once only is lost with its worker)",
                    NatsConfig::MAX_DELIVER
                ),
            ));
        }
        if nats.max_ack_pending < 1 {
            problems.push(Problem::new(
                at.key("max_ack_pending"),
                "must be more than 0",
            ));
        }
        if !(1..=10_000).contains(&nats.batch) {
            problems.push(Problem::new(at.key("batch"), "must be from 1 to 10000"));
        }
        if nats.timeout.is_some_and(|t| t.is_zero()) {
            problems.push(Problem::new(
                at.key("timeout"),
                "must be more than 0; leave the key out for the default (10s)",
            ));
        }
        problems
    }
}

/// A stream or consumer name as JetStream takes it: not empty, no whitespace, `.`, `*`, `>`,
/// `/` or `\`.
pub fn check_stream_name(name: &str) -> Result<(), String> {
    if name.is_empty()
        || name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || ".*>/\\".contains(c))
    {
        return Err(format!(
            "{name:?} is not a stream name: use letters, digits, `-` and `_` (no spaces, `.`, `*`, `>`, `/`)"
        ));
    }
    Ok(())
}

/// A subject to publish on: dot-separated tokens, none empty, no whitespace or wildcards.
pub fn check_subject(subject: &str) -> Result<(), String> {
    let bad = subject.is_empty()
        || subject.split('.').any(|token| {
            token.is_empty()
                || token == "*"
                || token == ">"
                || token.chars().any(|c| c.is_whitespace() || c.is_control())
        });
    if bad {
        return Err(format!(
            "{subject:?} is not a subject to publish on: dot-separated words without spaces or wildcards, e.g. newswatch.articles"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::path::Path;

    #[test]
    fn defaults_are_designs_and_keys_are_checked() {
        let c = Config::parse("nats: {}\n", Path::new("n.yaml")).unwrap();
        let nats = c.nats.unwrap();
        assert_eq!(nats.stream, "NEWSWATCH_ARTICLES");
        assert_eq!(nats.subject, "newswatch.articles");
        assert_eq!(nats.durable, "newswatch");
        assert_eq!(nats.alerts_subject, "newswatch.alerts");
        assert_eq!(nats.ack_wait, Duration::from_secs(30));
        let c = Config::parse(
            "nats: { url: 'nats://127.0.0.1:4222', ack_wait: 5s, durable: w }\n",
            Path::new("n.yaml"),
        )
        .unwrap();
        assert_eq!(c.nats.unwrap().ack_wait, Duration::from_secs(5));
        for (bad, key) in [
            ("nats: { url: 'http://x' }", "nats.url"),
            ("nats: { ack_wait: 1m }", "nats.ack_wait"),
            ("nats: { stream: 'a.b' }", "nats.stream"),
            ("nats: { subject: 'a..b' }", "nats.subject"),
            ("nats: { alerts_subject: 'a.>' }", "nats.alerts_subject"),
            ("nats: { max_deliver: 1 }", "nats.max_deliver"),
            ("nats: { durable: 'a b' }", "nats.durable"),
            ("nats: { nope: 1 }", "nope"),
        ] {
            let err = Config::parse(bad, Path::new("n.yaml"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(key), "{bad}: {err}");
        }
    }
}
