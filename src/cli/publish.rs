//! `newswatch publish`: files and folders (or `-`) into the fleet's articles stream.

use std::path::PathBuf;

use crate::fleet;
use crate::sources::{self, Input};

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Files and folders to publish (folders recursively, the formats `scan` reads); `-`
    /// publishes stdin as one article.
    #[arg(value_name = "PATH", required = true)]
    paths: Vec<PathBuf>,
    /// The NATS server(s) with JetStream [default: `nats.url` from the config].
    #[arg(long = "nats", value_name = "URL")]
    nats: Option<String>,
    /// Config file (default: ./newswatch.yaml if present).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The subject articles are published on [default: `nats.subject`, else newswatch.articles].
    #[arg(long, value_name = "S")]
    subject: Option<String>,
}

/// Exit codes.
const PUBLISHED: u8 = 0;
const TROUBLE: u8 = 2;

/// Files that could not be published named one by one, then counted.
const FAILURES_SHOWN: usize = 50;

pub(crate) fn run(args: Args) -> u8 {
    let setup = super::Setup {
        config: args.config,
        rules: None,
    };
    let loaded = match setup.load_or_exit() {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let mut settings = match super::consume::settings(args.nats, &loaded.config) {
        Ok(settings) => settings,
        Err(e) => {
            tracing::error!("{e}");
            return TROUBLE;
        }
    };
    if let Some(subject) = args.subject {
        if let Err(e) = crate::config::check_subject(&subject) {
            tracing::error!("--subject: {e}");
            return TROUBLE;
        }
        settings.subject = subject;
    }
    let mut failed: Vec<(String, String)> = Vec::new();
    let mut inputs: Vec<Input> = Vec::new();
    for input in sources::expand(&args.paths) {
        match input {
            Ok(input) => inputs.push(input),
            Err(e) => failed.push((String::new(), e.to_string())),
        }
    }
    let files = inputs.len();
    let result = fleet::publish(&settings, inputs, loaded.config.limits.max_file_size);
    let published = match result {
        Ok(published) => published,
        Err(e) => {
            tracing::error!("{e}; nothing published ({files} files)");
            return TROUBLE;
        }
    };
    failed.extend(published.failed);
    for (name, why) in failed.iter().take(FAILURES_SHOWN) {
        if name.is_empty() {
            tracing::error!("not published: {why}");
        } else {
            tracing::error!("{name}: not published: {why}");
        }
    }
    if failed.len() > FAILURES_SHOWN {
        tracing::error!("… and {} more not published", failed.len() - FAILURES_SHOWN);
    }
    tracing::info!(
        "published {} files to {} (stream {}): {} new, {} already there; {} not published",
        published.stored + published.duplicates,
        settings.subject,
        settings.stream,
        published.stored,
        published.duplicates,
        failed.len()
    );
    if failed.is_empty() {
        PUBLISHED
    } else {
        TROUBLE
    }
}
