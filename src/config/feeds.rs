//! `feeds:` and `feed_defaults:` — the feeds newswatch polls itself (see `crate::feeds`).
//!
//! An entry of `feeds:` is one feed (`url:`) or every feed of an OPML export of a feed reader
//! (`opml:`, read by `crate::feeds` when the feeds are resolved, so that its errors name the
//! OPML file, line and column). `every`, `first_poll`, `timeout` and `max_size` may be set per
//! entry; what is not set comes from `feed_defaults:`.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::quantity::{duration, opt_duration, opt_size, size};
use super::validate::{Problem, Section, expand, expand_path};
use super::yaml::KeyPath;

/// The shortest `every`: a feed is never asked more often than once a second.
pub const EVERY_MIN: Duration = Duration::from_secs(1);
/// The longest wait between two polls of a feed, whatever a server or a backoff says.
pub const EVERY_MAX: Duration = Duration::from_secs(24 * 3600);

/// What the first successful poll of a feed does with the items it already holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FirstPoll {
    /// Records them as seen, without evaluating them: adding a feed floods no one.
    #[default]
    Skip,
    /// Evaluates them like any new item.
    Alert,
}

/// One entry of `feeds:`: `url:` or `opml:`, and the settings that override `feed_defaults:`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedEntry {
    /// The feed's address (`http://` or `https://`).
    pub url: Option<String>,
    /// The URL as written, when it reads the environment (`${TOKEN}`): it names the feed in logs
    /// and `status`, so that a secret in the variable stays out of them.
    #[serde(skip)]
    pub url_as_written: Option<String>,
    /// An OPML file: every feed it lists (outlines with `xmlUrl`, nested ones included).
    pub opml: Option<PathBuf>,
    #[serde(default, deserialize_with = "opt_duration")]
    pub every: Option<Duration>,
    pub first_poll: Option<FirstPoll>,
    #[serde(default, deserialize_with = "opt_duration")]
    pub timeout: Option<Duration>,
    #[serde(default, deserialize_with = "opt_size")]
    pub max_size: Option<u64>,
}

/// `feed_defaults:` — what each feed uses unless its entry says otherwise.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeedDefaults {
    /// How often a feed is polled; server hints (`max-age`, `ttl`, `Retry-After`) only lengthen it.
    #[serde(deserialize_with = "duration")]
    pub every: Duration,
    pub first_poll: FirstPoll,
    /// How long one poll may take, from connecting to the last byte of the response.
    #[serde(deserialize_with = "duration")]
    pub timeout: Duration,
    /// The largest response read (after decompression); a larger one is an error of the feed.
    #[serde(deserialize_with = "size")]
    pub max_size: u64,
}

impl Default for FeedDefaults {
    fn default() -> FeedDefaults {
        FeedDefaults {
            every: Duration::from_secs(30 * 60),
            first_poll: FirstPoll::Skip,
            timeout: Duration::from_secs(30),
            max_size: 16 << 20,
        }
    }
}

impl Section for FeedDefaults {
    fn validate(&mut self, at: &KeyPath) -> Vec<Problem> {
        let mut problems = Vec::new();
        check_settings(
            at,
            Some(self.every),
            Some(self.timeout),
            Some(self.max_size),
            &mut problems,
        );
        problems
    }
}

impl Section for FeedEntry {
    fn validate(&mut self, at: &KeyPath) -> Vec<Problem> {
        let mut problems = Vec::new();
        match (&mut self.url, &mut self.opml) {
            (Some(_), Some(_)) => problems.push(Problem::new(
                at.key("opml"),
                "an entry is one feed (`url:`) or an OPML file (`opml:`), not both: make two entries",
            )),
            (None, None) => problems.push(Problem::new(
                at.clone(),
                "a feed needs `url:` (e.g. `url: https://example.org/rss.xml`) or `opml:` (a feed reader's export)",
            )),
            (Some(url), None) => {
                let written = url.clone();
                if expand(url, &at.key("url"), &mut problems) {
                    if written.contains("${") {
                        self.url_as_written = Some(written);
                    }
                    if let Err(e) = check_feed_url(url) {
                        problems.push(Problem::new(at.key("url"), e));
                    }
                }
            }
            (None, Some(path)) => expand_path(path, &at.key("opml"), &mut problems),
        }
        check_settings(at, self.every, self.timeout, self.max_size, &mut problems);
        problems
    }
}

/// The checks of `every`, `timeout` and `max_size`, where they are set.
fn check_settings(
    at: &KeyPath,
    every: Option<Duration>,
    timeout: Option<Duration>,
    max_size: Option<u64>,
    problems: &mut Vec<Problem>,
) {
    if let Some(every) = every {
        if every < EVERY_MIN {
            let message = format!(
                "{every:?} is shorter than a feed is ever polled: write at least 1s (servers' hints and backoff only lengthen it)"
            );
            problems.push(Problem::new(at.key("every"), message));
        } else if every > EVERY_MAX {
            let message = format!(
                "{every:?} is longer than newswatch waits between polls of a feed: write at most 24h"
            );
            problems.push(Problem::new(at.key("every"), message));
        }
    }
    if timeout.is_some_and(|t| t.is_zero()) {
        let message = "0 fails every poll: give a time such as 30s, or leave it out";
        problems.push(Problem::new(at.key("timeout"), message));
    }
    if max_size == Some(0) {
        let message = "0 refuses every feed: give a size such as 16MiB, or leave it out";
        problems.push(Problem::new(at.key("max_size"), message));
    }
}

/// Checks that `url` is an absolute `http://` or `https://` URL with a host.
pub fn check_feed_url(url: &str) -> Result<(), String> {
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return Err(format!(
            "feed url {url:?} must start with http:// or https://"
        ));
    }
    let uri: ureq::http::Uri = url
        .parse()
        .map_err(|e| format!("feed url {url:?} is not a valid URL: {e}"))?;
    match uri.host() {
        Some(host) if !host.is_empty() => Ok(()),
        _ => Err(format!("feed url {url:?} has no host")),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::Config;
    use super::*;

    fn problems(yaml: &str) -> Vec<String> {
        let (_, problems) = Config::parse_all(yaml, Path::new("n.yaml"));
        problems.iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn feeds_and_their_defaults_are_read() {
        let yaml = "feeds:\n  - url: https://example.org/rss.xml\n    every: 15m\n  - opml: subs.opml\n    first_poll: alert\nfeed_defaults: { every: 1h, first_poll: skip, timeout: 10s, max_size: 1MiB }\n";
        let c = Config::parse(yaml, Path::new("n.yaml")).unwrap();
        assert_eq!(c.feeds.len(), 2);
        assert_eq!(c.feeds[0].every, Some(Duration::from_secs(900)));
        assert_eq!(c.feeds[1].opml.as_deref(), Some(Path::new("subs.opml")));
        assert_eq!(c.feeds[1].first_poll, Some(FirstPoll::Alert));
        assert_eq!(c.feed_defaults.every, Duration::from_secs(3600));
        assert_eq!(c.feed_defaults.max_size, 1 << 20);
        assert_eq!(Config::default().feed_defaults, FeedDefaults::default());
    }

    #[test]
    fn bad_feeds_are_named_where_they_are_written() {
        assert_eq!(
            problems("feeds:\n  - url: ftp://x/feed\n"),
            [
                "n.yaml:2:5: feeds[0].url: feed url \"ftp://x/feed\" must start with http:// or https://"
            ]
        );
        let both = problems("feeds:\n  - url: http://x/a\n    opml: a.opml\n");
        assert!(
            both[0].starts_with("n.yaml:3:5: feeds[0].opml: an entry is one feed"),
            "{both:?}"
        );
        let none = problems("feeds:\n  - every: 5m\n");
        assert!(
            none[0].starts_with("n.yaml:2:5: feeds[0]: a feed needs `url:`"),
            "{none:?}"
        );
        let fast = problems("feeds:\n  - url: http://x/a\n    every: 500ms\n");
        assert!(
            fast[0].starts_with("n.yaml:3:5: feeds[0].every: 500ms is shorter"),
            "{fast:?}"
        );
        let unit = problems("feed_defaults: { every: 30 }\n");
        assert!(unit[0].contains("has no unit"), "{unit:?}");
        let unknown = problems("feeds:\n  - url: http://x/a\n    evry: 5m\n");
        assert!(
            unknown[0].starts_with("n.yaml:3:5: feeds[0]: unknown field `evry`"),
            "{unknown:?}"
        );
        let zero = problems("feed_defaults:\n  max_size: 0\n");
        assert!(
            zero[0].starts_with("n.yaml:2:3: feed_defaults.max_size: 0 refuses"),
            "{zero:?}"
        );
    }
}
