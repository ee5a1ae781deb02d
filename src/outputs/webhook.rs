//! `type: webhook`: an HTTP(S) POST of the alert JSON; any 2xx answer is a delivery.
//!
//! `ureq` with rustls: blocking (each output has its own delivery thread), small, and no
//! system TLS library to install.
//!
//! Failures are classified as DESIGN.md says: no answer (a timeout, a refused connection), HTTP
//! 5xx, 408 and 429 may go away and are retried, after the `Retry-After` the receiver gave if
//! any; any other 4xx means the receiver refuses this alert as it is, and the delivery is
//! `failed` at once, with the status and the start of the response body.

use std::io::Read;
use std::time::Duration;

use super::{DeliveryError, Digest, Output, OutputError};
use newswatch_engine::alert::Alert;

pub struct WebhookOutput {
    url: String,
    headers: Vec<(String, String)>,
    agent: ureq::Agent,
    name: String,
}

impl WebhookOutput {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

    /// `as_written` (the URL before `${VAR}` expansion, if it had some) names the output; else
    /// the URL does, without its user, password and query, where secrets tend to be.
    pub fn new(
        url: &str,
        as_written: Option<&str>,
        headers: impl IntoIterator<Item = (String, String)>,
        timeout: Option<Duration>,
    ) -> Result<WebhookOutput, OutputError> {
        check_url(url).map_err(OutputError::Url)?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout.unwrap_or(Self::DEFAULT_TIMEOUT)))
            .http_status_as_error(false)
            .user_agent(concat!("newswatch/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Ok(WebhookOutput {
            name: WebhookOutput::name_for(url, as_written),
            url: url.to_string(),
            headers: headers.into_iter().collect(),
            agent,
        })
    }
}

impl WebhookOutput {
    /// The name of a webhook to `url`: as written when it reads the environment, else without
    /// what may be secret.
    pub fn name_for(url: &str, as_written: Option<&str>) -> String {
        format!(
            "webhook {}",
            as_written.map_or_else(|| redacted(url), str::to_string)
        )
    }
}

impl Output for WebhookOutput {
    fn name(&self) -> &str {
        &self.name
    }

    fn deliver(&mut self, alert: &Alert) -> Result<(), DeliveryError> {
        self.post(alert.to_json())
    }

    fn deliver_digest(&mut self, digest: &Digest) -> Result<(), DeliveryError> {
        self.post(digest.to_json())
    }
}

impl WebhookOutput {
    /// POSTs one JSON document: one delivery.
    fn post(&mut self, json: String) -> Result<(), DeliveryError> {
        let mut request = self.agent.post(&self.url).content_type("application/json");
        for (k, v) in &self.headers {
            request = request.header(k, v);
        }
        let mut response = request.send(json).map_err(|e| {
            DeliveryError::transient(format!(
                "{}: {}",
                self.name,
                e.to_string().replace(&self.url, "…")
            ))
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| retry_after(v, jiff::Timestamp::now()));
        // The start of the body: what the receiver says is wrong, bounded.
        let mut head = Vec::new();
        let _ = response
            .body_mut()
            .as_reader()
            .take(BODY_SHOWN as u64)
            .read_to_end(&mut head);
        let body = String::from_utf8_lossy(&head);
        let body = body.trim();
        let message = if body.is_empty() {
            format!("{}: HTTP {status}", self.name)
        } else {
            format!("{}: HTTP {status}: {body}", self.name)
        };
        Err(match status.as_u16() {
            408 | 429 => DeliveryError::Transient {
                message,
                retry_after,
            },
            400..=499 => DeliveryError::permanent(message),
            _ => DeliveryError::Transient {
                message,
                retry_after,
            },
        })
    }
}

/// How much of a refusing receiver's response body is kept for the log and the state.
const BODY_SHOWN: usize = 2048;

/// The longest `Retry-After` honoured: a receiver asking for more is asked again then.
const RETRY_AFTER_MAX: Duration = Duration::from_secs(6 * 3600);

/// A `Retry-After` value — seconds, or an HTTP date — as a wait from `now`, at most
/// [`RETRY_AFTER_MAX`]; `None` when it is neither.
fn retry_after(value: &str, now: jiff::Timestamp) -> Option<Duration> {
    let value = value.trim();
    let wait = if let Ok(secs) = value.parse::<u64>() {
        Duration::from_secs(secs)
    } else {
        static HTTP_DATE: jiff::fmt::rfc2822::DateTimeParser =
            jiff::fmt::rfc2822::DateTimeParser::new();
        let at = HTTP_DATE.parse_timestamp(value).ok()?;
        let ms = (at.as_millisecond() - now.as_millisecond()).max(0);
        Duration::from_millis(ms as u64)
    };
    Some(wait.min(RETRY_AFTER_MAX))
}

/// `url` without what may be secret: user and password, query and fragment.
/// Checks that `url` is an absolute `http://` or `https://` URL with a host.
pub fn check_url(url: &str) -> Result<(), String> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(format!(
            "webhook url {url:?} must start with http:// or https://"
        ));
    }
    let uri: ureq::http::Uri = url
        .parse()
        .map_err(|e| format!("webhook url {url:?} is not a valid URL: {e}"))?;
    match uri.host() {
        Some(host) if !host.is_empty() => Ok(()),
        _ => Err(format!(
            "webhook url {url:?} has no host: write it like http://127.0.0.1:9000/alerts"
        )),
    }
}

fn redacted(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let hidden = if rest.contains(['?', '#']) { "…" } else { "" };
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = authority.rsplit('@').next().unwrap_or(authority);
    let user = if authority.contains('@') { "…@" } else { "" };
    format!("{scheme}://{user}{host}{path}{hidden}")
}

#[cfg(test)]
mod tests {
    use super::{RETRY_AFTER_MAX, redacted, retry_after};
    use std::time::Duration;

    #[test]
    fn retry_after_is_seconds_or_an_http_date_and_bounded() {
        let now: jiff::Timestamp = "2026-03-01T10:00:00Z".parse().unwrap();
        assert_eq!(retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(retry_after(" 120 ", now), Some(Duration::from_secs(120)));
        assert_eq!(
            retry_after("Sun, 01 Mar 2026 10:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after("Sun, 01 Mar 2026 09:00:00 GMT", now),
            Some(Duration::ZERO),
            "a date passed: now"
        );
        assert_eq!(retry_after("99999999", now), Some(RETRY_AFTER_MAX));
        assert_eq!(retry_after("soon", now), None);
        assert_eq!(retry_after("-5", now), None);
    }

    #[test]
    fn secrets_in_urls_are_left_out_of_names() {
        assert_eq!(
            redacted("https://example.com/hook"),
            "https://example.com/hook"
        );
        assert_eq!(
            redacted("https://user:pw@example.com:8080/hook?token=s3cret#x"),
            "https://…@example.com:8080/hook…"
        );
        assert_eq!(redacted("http://127.0.0.1:9/"), "http://127.0.0.1:9/");
        assert_eq!(redacted("https://u:p@h/x"), "https://…@h/x");
    }
}
