//! `type: stdout`: one alert JSON per line on standard output, flushed per alert.

use std::io::Write;

use super::{DeliveryError, Digest, Output};
use newswatch_engine::alert::Alert;

pub struct StdoutOutput;

impl StdoutOutput {
    /// Its name: there is only one of it.
    pub const NAME: &str = "stdout";

    pub fn new() -> StdoutOutput {
        StdoutOutput
    }
}

impl Default for StdoutOutput {
    fn default() -> Self {
        StdoutOutput::new()
    }
}

impl Output for StdoutOutput {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn deliver(&mut self, alert: &Alert) -> Result<(), DeliveryError> {
        line(&alert.to_json())
    }

    fn deliver_digest(&mut self, digest: &Digest) -> Result<(), DeliveryError> {
        line(&digest.to_json())
    }
}

fn line(json: &str) -> Result<(), DeliveryError> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{json}")
        .and_then(|()| out.flush())
        .map_err(|e| DeliveryError::transient(format!("cannot write to stdout: {e}")))
}
