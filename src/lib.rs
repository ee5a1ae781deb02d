//! newswatch: an embedded alert rules engine for text articles.
//!
//! Articles go through a one-way pipeline — sources → ingest → engine → alerts → outputs —
//! and the library exposes the middle of it: read articles with [`ingest`] (or build an
//! [`Article`] in memory), compile a rules folder once into a [`Ruleset`], and evaluate it on
//! each article to get [`Alert`]s.
//!
//! ```
//! use newswatch::{Article, Limits, Ruleset};
//!
//! let rules = Ruleset::from_sources(
//!     [("deepseek_h200", r#"if article.mentions_all(["DeepSeek", "H200"]) { alert("both"); }"#)],
//!     Limits::default(),
//! );
//! // A rule that does not compile is left out and said here, with its line and column.
//! assert!(rules.diagnostics().is_empty());
//! let article = Article::new("Nvidia's H200", "DeepSeek's next model will train on them.");
//! let alerts = rules.evaluate(&article).alerts;
//! assert_eq!(alerts[0].rule, "deepseek_h200");
//! ```
//!
//! [`Ruleset::load`] compiles a folder of `*.rhai` files the same way. A [`Ruleset`] is
//! `Send + Sync`: share one (e.g. in an `Arc`) across threads and evaluate articles in
//! parallel.

pub mod alert;
pub mod article;
pub mod config;
mod error;
pub mod outbox;
pub mod outputs;
pub mod rules;
pub mod sources;
pub mod state;
pub mod text;
pub mod watch;

#[doc(hidden)]
pub mod cli;

pub use alert::{Alert, Severity};
pub use article::{Article, ingest};
pub use error::Error;
pub use rules::{Diagnostic, Evaluation, Limits, RuleError, Ruleset};

/// When something started now and given `timeout` must stop. A timeout from the config can be
/// longer than `Instant` can count: that is no timeout, not a panic.
pub(crate) fn deadline(timeout: std::time::Duration) -> std::time::Instant {
    let now = std::time::Instant::now();
    now.checked_add(timeout)
        .unwrap_or_else(|| now + std::time::Duration::from_secs(100 * 365 * 86_400))
}

/// The text of a caught panic, for the log line that replaces it.
#[doc(hidden)]
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}
