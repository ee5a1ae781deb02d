//! `type: webhook`: an HTTP(S) POST of the alert JSON; any 2xx answer is a delivery.
//!
//! `ureq` with rustls: blocking (each output has its own delivery thread), small, and no
//! system TLS library to install.

use std::time::Duration;

use super::{DeliveryError, Output};
use crate::alert::Alert;

pub struct WebhookOutput {
    url: String,
    headers: Vec<(String, String)>,
    agent: ureq::Agent,
    name: String,
}

impl WebhookOutput {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

    pub fn new(
        url: &str,
        headers: impl IntoIterator<Item = (String, String)>,
        timeout: Option<Duration>,
    ) -> Result<WebhookOutput, String> {
        crate::config::check_webhook_url(url)?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout.unwrap_or(Self::DEFAULT_TIMEOUT)))
            .http_status_as_error(false)
            .user_agent(concat!("newswatch/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Ok(WebhookOutput {
            name: format!("webhook {url}"),
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
        let response = request
            .send(alert.to_json())
            .map_err(|e| DeliveryError(format!("{}: {e}", self.url)))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(DeliveryError(format!("{}: HTTP {status}", self.url)))
        }
    }
}
