//! Logging to stderr: `LEVEL: message`, one line per event, with the rule name first for lines
//! that come from a rule's `print`/`debug`.

use std::fmt;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Installs the stderr logger: `--log-level` if given, else `RUST_LOG`, else `info`.
pub(super) fn init(level: Option<&str>) {
    // html5ever warns about markup it repairs ("foster parenting…"): noise about an article,
    // not news about newswatch. The NATS client says at `info` what newswatch says itself.
    let filter = match level {
        Some(level) => EnvFilter::new(format!("{level},html5ever=error,async_nats=warn")),
        None => EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| EnvFilter::new("info,html5ever=error,async_nats=warn")),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .event_format(Plain)
        .init();
}

struct Plain;

impl<S, N> FormatEvent<S, N> for Plain
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let level = event.metadata().level().as_str().to_ascii_lowercase();
        write!(writer, "{level}: ")?;
        if let Some(rule) = fields.rule {
            write!(writer, "rule {rule}: ")?;
        }
        write!(writer, "{}", fields.message)?;
        for (k, v) in fields.rest {
            write!(writer, " {k}={v}")?;
        }
        writeln!(writer)
    }
}

#[derive(Default)]
struct Fields {
    message: String,
    rule: Option<String>,
    rest: Vec<(&'static str, String)>,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = format!("{value:?}");
        match field.name() {
            "message" => self.message = text,
            "rule" => self.rule = Some(text),
            name => self.rest.push((name, text)),
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message = value.to_string(),
            "rule" => self.rule = Some(value.to_string()),
            name => self.rest.push((name, value.to_string())),
        }
    }
}
