//! newswatch-engine: the embeddable core of newswatch, an alert rules engine for text articles.
//!
//! Articles go through a one-way pipeline — sources → ingest → engine → alerts → outputs — and
//! this crate is its middle: [`ingest`] turns bytes into [`Article`]s (or build one in memory),
//! a [`Ruleset`] is a folder of Rhai rules compiled once, and evaluating it on an article gives
//! [`Alert`]s. Sources (watching folders), the state store and delivery live in the `newswatch`
//! program; this crate reads no environment variable, no clock and no file it was not asked to.
//!
//! ```
//! use std::time::SystemTime;
//! use newswatch_engine::{Article, Limits, Ruleset};
//!
//! let rules = Ruleset::from_sources(
//!     [("deepseek_h200", r#"if article.mentions_all(["DeepSeek", "H200"]) { alert("both"); }"#)],
//!     Limits::default(),
//! );
//! // A rule that does not compile is left out and said here, with its line and column.
//! assert!(rules.diagnostics().is_empty());
//!
//! // One scanner per thread; the caller says what time alerts are stamped with.
//! let mut scanner = rules.scanner();
//! let article = Article::new("Nvidia's H200", "DeepSeek's next model will train on them.");
//! let alerts = scanner.scan(&article, SystemTime::now()).unwrap().alerts;
//! assert_eq!(alerts[0].rule, "deepseek_h200");
//! ```
//!
//! [`Ruleset::load`] compiles a folder of `*.rhai` files the same way. A [`Ruleset`] is
//! immutable and `Send + Sync`: share one by reference across threads, and give each thread
//! its own [`Scanner`] (`examples/embed.rs` does this on files). Errors are one enum,
//! [`Error`], whose variants say which file, which rule or which limit.

#![deny(missing_docs)]

pub mod alert;
pub mod article;
mod error;
pub mod memory;
pub mod rules;
pub mod story;
mod text;
pub mod time;

pub use alert::{Alert, Severity};
pub use article::{Article, ingest};
pub use error::Error;
pub use rules::{
    Diagnostic, Evaluation, Explanation, Limits, RuleError, Ruleset, RulesetOptions, Scanner,
};

/// The stack a thread needs to ingest and evaluate any article: parsers of nested formats
/// (HTML, JSON, YAML front matter, feeds) and Rhai's evaluator recurse, within depth limits
/// that fit in this much. The main thread has 8 MiB on Linux; threads spawned by `std` or
/// `rayon` have 2 MiB unless told: give threads that call [`ingest`] or
/// [`Scanner::scan`] this much, e.g. with `std::thread::Builder::stack_size`.
pub const STACK_SIZE: usize = 16 << 20;

/// When something started now and given `timeout` must stop. A timeout from the config can be
/// longer than `Instant` can count: that is no timeout, not a panic.
pub(crate) fn deadline(timeout: std::time::Duration) -> std::time::Instant {
    let now = std::time::Instant::now();
    now.checked_add(timeout)
        .unwrap_or_else(|| now + std::time::Duration::from_secs(100 * 365 * 86_400))
}
