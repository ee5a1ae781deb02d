//! One poll of a feed over HTTP: a conditional GET (`If-None-Match`, `If-Modified-Since`),
//! gzip accepted, redirects followed (at most [`MAX_REDIRECTS`]; whether every hop was
//! permanent is told, so the feed's address can be updated), one timeout for the whole exchange
//! from connecting to the last byte (redirects included), and a size limit on the body as
//! decompressed. `ureq` with rustls, as the webhook output uses: blocking, each poll on a
//! thread of the poller's pool.

use std::time::{Duration, Instant};

/// Redirects followed before a poll fails.
pub const MAX_REDIRECTS: usize = 5;

/// Connecting may take at most this long (or the poll's timeout, if shorter).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How much of an error response's body is kept for the state and the log.
const ERROR_BODY_SHOWN: u64 = 512;

/// What newswatch says it is: feed publishers look at this to know who polls them.
pub fn user_agent() -> String {
    let repository = env!("CARGO_PKG_REPOSITORY");
    if repository.is_empty() {
        format!("newswatch/{} (feed poller)", env!("CARGO_PKG_VERSION"))
    } else {
        format!("newswatch/{} (+{repository})", env!("CARGO_PKG_VERSION"))
    }
}

const ACCEPT: &str = "application/rss+xml, application/atom+xml, application/feed+json, \
                      application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5";

/// What to ask.
pub struct Asked<'a> {
    pub url: &'a str,
    pub etag: Option<&'a str>,
    pub last_modified: Option<&'a str>,
    pub timeout: Duration,
    pub max_size: u64,
}

/// What the server answered.
#[derive(Debug, Default)]
pub struct Answer {
    /// The HTTP status of the last response; `None` when there was none.
    pub status: Option<u16>,
    pub body: Body,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub content_type: Option<String>,
    pub max_age: Option<Duration>,
    pub retry_after: Option<Duration>,
    /// Where the feed is now, when every redirect on the way was permanent (301, 308).
    pub moved_to: Option<String>,
}

#[derive(Debug, Default)]
pub enum Body {
    /// 2xx: the body, decompressed.
    Fetched(Vec<u8>),
    /// 304: unchanged since the validators sent.
    #[default]
    NotModified,
    /// No usable answer: why.
    Failed(String),
}

/// An HTTP client for feeds, shared by the poller's threads (its connections are pooled).
#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
}

impl Client {
    pub fn new() -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            // Followed here, to know whether each hop was permanent.
            .max_redirects(0)
            .user_agent(user_agent())
            .build()
            .into();
        Client { agent }
    }

    /// Polls `asked.url` once.
    pub fn get(&self, asked: &Asked) -> Answer {
        let deadline = Instant::now() + asked.timeout;
        let mut url = asked.url.to_string();
        let mut permanent = true;
        for _ in 0..=MAX_REDIRECTS {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return failed(
                    None,
                    format!("no complete answer within {:?}", asked.timeout),
                );
            }
            let mut request = self.agent.get(&url).header("Accept", ACCEPT);
            if let Some(etag) = asked.etag {
                request = request.header("If-None-Match", etag);
            }
            if let Some(date) = asked.last_modified {
                request = request.header("If-Modified-Since", date);
            }
            let request = request
                .config()
                .timeout_global(Some(left))
                .timeout_connect(Some(left.min(CONNECT_TIMEOUT)))
                .build();
            let mut response = match request.call() {
                Ok(response) => response,
                Err(e) => return failed(None, describe(e, asked)),
            };
            let status = response.status().as_u16();
            let header = |name: &str| {
                response
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(|v| v.trim().to_string())
                    .filter(|v| !v.is_empty())
            };
            if matches!(status, 301 | 302 | 303 | 307 | 308) {
                let Some(location) = header("location") else {
                    return failed(Some(status), format!("HTTP {status} without a Location"));
                };
                permanent &= matches!(status, 301 | 308);
                url = join(&url, &location);
                continue;
            }
            let mut answer = Answer {
                status: Some(status),
                etag: header("etag"),
                last_modified: header("last-modified"),
                content_type: header("content-type"),
                max_age: header("cache-control").and_then(|v| max_age(&v)),
                moved_to: (permanent && url != asked.url).then(|| url.clone()),
                ..Answer::default()
            };
            answer.body = match status {
                304 => Body::NotModified,
                200..=299 => match response
                    .body_mut()
                    .with_config()
                    .limit(asked.max_size)
                    .read_to_vec()
                {
                    Ok(bytes) => Body::Fetched(bytes),
                    Err(e) => Body::Failed(describe(e, asked)),
                },
                _ => {
                    if matches!(status, 429 | 503) {
                        answer.retry_after = header("retry-after")
                            .and_then(|v| retry_after(&v, jiff::Timestamp::now()));
                    }
                    let start = response
                        .body_mut()
                        .with_config()
                        .limit(ERROR_BODY_SHOWN)
                        .lossy_utf8(true)
                        .read_to_string()
                        .unwrap_or_default();
                    let start = start.split_whitespace().collect::<Vec<_>>().join(" ");
                    Body::Failed(if start.is_empty() {
                        format!("HTTP {status}")
                    } else {
                        format!("HTTP {status}: {start}")
                    })
                }
            };
            return answer;
        }
        failed(None, format!("more than {MAX_REDIRECTS} redirects"))
    }
}

fn failed(status: Option<u16>, why: String) -> Answer {
    Answer {
        status,
        body: Body::Failed(why),
        ..Answer::default()
    }
}

/// A ureq error as a person reads it.
fn describe(e: ureq::Error, asked: &Asked) -> String {
    match e {
        ureq::Error::Timeout(_) => format!("no complete answer within {:?}", asked.timeout),
        ureq::Error::BodyExceedsLimit(_) => format!(
            "the feed is larger than max_size ({} bytes): raise max_size for it if it is right",
            asked.max_size
        ),
        e => e.to_string(),
    }
}

/// `location` (absolute, `//host/…`, `/path` or relative) against the URL it came from.
pub fn join(base: &str, location: &str) -> String {
    if location.contains("://") {
        return location.to_string();
    }
    let (scheme, rest) = base.split_once("://").unwrap_or(("http", base));
    if let Some(network) = location.strip_prefix("//") {
        return format!("{scheme}://{network}");
    }
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    if location.starts_with('/') {
        return format!("{scheme}://{authority}{location}");
    }
    let path = rest[authority_end..].split(['?', '#']).next().unwrap_or("");
    let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
    let dir = if dir.is_empty() { "/" } else { dir };
    if location.starts_with('?') {
        return format!("{scheme}://{authority}{path}{location}");
    }
    format!("{scheme}://{authority}{dir}{location}")
}

/// `max-age` of a `Cache-Control` value.
fn max_age(value: &str) -> Option<Duration> {
    value.split(',').find_map(|directive| {
        let (name, secs) = directive.trim().split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("max-age")
            .then(|| secs.trim().trim_matches('"').parse().ok())
            .flatten()
            .map(Duration::from_secs)
    })
}

/// A `Retry-After` value — seconds, or an HTTP date — as a wait from `now`.
fn retry_after(value: &str, now: jiff::Timestamp) -> Option<Duration> {
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    static HTTP_DATE: jiff::fmt::rfc2822::DateTimeParser =
        jiff::fmt::rfc2822::DateTimeParser::new();
    let at = HTTP_DATE.parse_timestamp(value).ok()?;
    let ms = (at.as_millisecond() - now.as_millisecond()).max(0);
    Some(Duration::from_millis(ms as u64))
}

/// An RSS `<ttl>` (minutes) in the channel, before the first item.
pub fn rss_ttl(bytes: &[u8]) -> Option<Duration> {
    let head = &bytes[..bytes.len().min(64 << 10)];
    let find = |needle: &[u8], from: usize| {
        head[from..]
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|i| i + from)
    };
    let start = find(b"<ttl>", 0)? + 5;
    if find(b"<item", 0).is_some_and(|item| item < start) {
        return None;
    }
    let end = find(b"</ttl>", start)?;
    let minutes: u64 = std::str::from_utf8(&head[start..end])
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(minutes.saturating_mul(60)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_locations_are_joined() {
        let base = "https://a.example/news/feed.xml?x=1";
        assert_eq!(join(base, "http://b.example/f"), "http://b.example/f");
        assert_eq!(join(base, "//c.example/f"), "https://c.example/f");
        assert_eq!(join(base, "/rss"), "https://a.example/rss");
        assert_eq!(join(base, "atom.xml"), "https://a.example/news/atom.xml");
        assert_eq!(join("http://h:8080", "f.xml"), "http://h:8080/f.xml");
        assert_eq!(join(base, "?y=2"), "https://a.example/news/feed.xml?y=2");
    }

    #[test]
    fn server_hints_are_read() {
        assert_eq!(
            max_age("public, max-age=600"),
            Some(Duration::from_secs(600))
        );
        assert_eq!(max_age("no-cache"), None);
        let now: jiff::Timestamp = "2026-03-01T10:00:00Z".parse().unwrap();
        assert_eq!(retry_after("5", now), Some(Duration::from_secs(5)));
        assert_eq!(
            retry_after("Sun, 01 Mar 2026 10:01:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(retry_after("later", now), None);
        let rss = b"<rss><channel><title>x</title><ttl> 60 </ttl><item><ttl>1</ttl></item>";
        assert_eq!(rss_ttl(rss), Some(Duration::from_secs(3600)));
        assert_eq!(rss_ttl(b"<rss><channel><item><ttl>5</ttl></item>"), None);
        assert!(user_agent().starts_with("newswatch/"));
    }
}
