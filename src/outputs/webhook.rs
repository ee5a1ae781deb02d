//! `type: webhook`: an HTTP(S) POST of the alert JSON; any 2xx answer is a delivery.
//!
//! `ureq` with rustls: blocking (each output has its own delivery thread), small, and no
//! system TLS library to install.

use std::time::Duration;

use super::{DeliveryError, Output, OutputError};
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
            name: format!(
                "webhook {}",
                as_written.map_or_else(|| redacted(url), str::to_string)
            ),
            url: url.to_string(),
            headers: headers.into_iter().collect(),
            agent,
        })
    }
}

impl Output for WebhookOutput {
    fn name(&self) -> &str {
        &self.name
    }

    fn deliver(&mut self, alert: &Alert) -> Result<(), DeliveryError> {
        let mut request = self.agent.post(&self.url).content_type("application/json");
        for (k, v) in &self.headers {
            request = request.header(k, v);
        }
        let response = request.send(alert.to_json()).map_err(|e| {
            DeliveryError(format!(
                "{}: {}",
                self.name,
                e.to_string().replace(&self.url, "…")
            ))
        })?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(DeliveryError(format!("{}: HTTP {status}", self.name)))
        }
    }
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
    use super::redacted;

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
