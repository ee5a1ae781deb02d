//! Printing alerts on stdout: JSON Lines, or readable text (coloured only on a terminal).

use std::io::{self, IsTerminal, Write};

use anstyle::{AnsiColor, Style};

use super::Format;
use newswatch_engine::alert::{Alert, Severity};

/// Writes alerts to stdout in one format.
pub(crate) struct AlertPrinter {
    format: Format,
    colour: bool,
    out: io::BufWriter<io::Stdout>,
}

/// When text is coloured: `--color`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ColorChoice {
    /// On a terminal, unless `NO_COLOR` is set.
    #[default]
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Whether to colour stdout.
    pub fn on(self) -> bool {
        match self {
            ColorChoice::Auto => {
                io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
            }
            ColorChoice::Always => true,
            ColorChoice::Never => false,
        }
    }
}

impl AlertPrinter {
    pub fn new(format: Format) -> AlertPrinter {
        AlertPrinter::with_color(format, ColorChoice::Auto)
    }

    pub fn with_color(format: Format, color: ColorChoice) -> AlertPrinter {
        let colour = color.on();
        AlertPrinter {
            format,
            colour,
            out: io::BufWriter::new(io::stdout()),
        }
    }

    pub fn print(&mut self, alert: &Alert) -> io::Result<()> {
        match self.format {
            Format::Json => writeln!(self.out, "{}", alert.to_json()),
            Format::Text => self.text(alert),
        }
    }

    fn text(&mut self, alert: &Alert) -> io::Result<()> {
        let paint = |style: Style, text: &str| {
            if self.colour {
                format!("{}{text}{}", style.render(), style.render_reset())
            } else {
                text.to_string()
            }
        };
        let severity = paint(
            severity_style(alert.severity),
            &format!("{:<8}", alert.severity.as_str()),
        );
        let rule = paint(Style::new().bold(), &printable(&alert.rule));
        let dim = Style::new().dimmed();
        let path = printable(alert.article.path.as_deref().unwrap_or("-"));
        writeln!(self.out, "{severity} {rule}  {}", paint(dim, &path))?;
        writeln!(self.out, "         {}", printable(&alert.message))?;
        if !alert.tags.is_empty() {
            let tags = alert.tags.join(", ");
            let tags = printable(&tags);
            writeln!(
                self.out,
                "         {}",
                paint(dim, &format!("tags: {tags}"))
            )?;
        }
        for m in &alert.matches {
            writeln!(
                self.out,
                "         {} {}",
                paint(dim, &format!("{}:", printable(&m.term))),
                printable(&m.snippet)
            )?;
        }
        Ok(())
    }

    /// A plain line (`scan -c`, `-l`).
    pub fn line(&mut self, line: &str) -> io::Result<()> {
        writeln!(self.out, "{}", printable(line))
    }

    /// An indented note under the alert just printed (text format only).
    pub fn note(&mut self, line: &str) -> io::Result<()> {
        let line = printable(line);
        let dim = Style::new().dimmed();
        if self.colour {
            writeln!(
                self.out,
                "         {}{line}{}",
                dim.render(),
                dim.render_reset()
            )
        } else {
            writeln!(self.out, "         {line}")
        }
    }

    /// Writes `value` as one JSON line, fields in the order it serializes them (json format).
    pub fn json(&mut self, value: &impl serde::Serialize) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, value)?;
        writeln!(self.out)
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// Whether printed alerts wait in the buffer.
    pub fn is_pending(&self) -> bool {
        !self.out.buffer().is_empty()
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// `text` without control characters: article text (titles, snippets, messages built from
/// them) is untrusted, and an escape sequence in it must not drive the reader's terminal.
pub(super) fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().any(char::is_control) {
        text.chars()
            .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
            .collect::<String>()
            .into()
    } else {
        text.into()
    }
}

fn severity_style(severity: Severity) -> Style {
    let colour = match severity {
        Severity::Info => AnsiColor::Blue,
        Severity::Low => AnsiColor::Cyan,
        Severity::Medium => AnsiColor::Yellow,
        Severity::High => AnsiColor::Red,
        Severity::Critical => AnsiColor::BrightRed,
    };
    Style::new().fg_color(Some(colour.into())).bold()
}
