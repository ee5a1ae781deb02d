//! `type: desktop`: a freedesktop notification (title, message, urgency by severity).
//!
//! The session bus is checked when the output is built, so a daemon started without a desktop
//! session says so once at start instead of failing every alert.

use super::{DeliveryError, Digest, Output, OutputError};
use newswatch_engine::alert::Alert;
#[cfg(all(unix, not(target_os = "macos")))]
use newswatch_engine::alert::Severity;

pub struct DesktopOutput;

impl DesktopOutput {
    /// Its name: there is only one of it.
    pub const NAME: &str = "desktop";

    pub fn new() -> Result<DesktopOutput, OutputError> {
        #[cfg(all(unix, not(target_os = "macos")))]
        notify_rust::get_server_information().map_err(|e| OutputError::NoDesktop(e.to_string()))?;
        Ok(DesktopOutput)
    }
}

impl Output for DesktopOutput {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn deliver(&mut self, alert: &Alert) -> Result<(), DeliveryError> {
        let mut n = notify_rust::Notification::new();
        n.appname("newswatch")
            .summary(&format!("{} ({})", alert.article.title, alert.rule))
            .body(&alert.message);
        #[cfg(all(unix, not(target_os = "macos")))]
        n.urgency(match alert.severity {
            Severity::Info | Severity::Low => notify_rust::Urgency::Low,
            Severity::Medium => notify_rust::Urgency::Normal,
            Severity::High | Severity::Critical => notify_rust::Urgency::Critical,
        });
        n.show()
            .map(drop)
            .map_err(|e| DeliveryError::transient(format!("desktop notification: {e}")))
    }

    fn deliver_digest(&mut self, digest: &Digest) -> Result<(), DeliveryError> {
        let (summary, body) = digest.summary();
        notify_rust::Notification::new()
            .appname("newswatch")
            .summary(&summary)
            .body(&body)
            .show()
            .map(drop)
            .map_err(|e| DeliveryError::transient(format!("desktop notification: {e}")))
    }
}
