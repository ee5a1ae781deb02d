//! `newswatch consume`: resolve the settings (config `nats:`, then the flags), compile the
//! rules, and hand over to a fleet worker (`crate::fleet`).

use crate::fleet::{self, Settings};

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The NATS server(s) with JetStream: nats://host:4222, or several separated by commas
    /// (default: `nats.url` from the config).
    #[arg(long = "nats", value_name = "URL")]
    nats: Option<String>,
    /// The rules are compiled once and shared by every core; changes to the folder apply to the
    /// next article.
    #[command(flatten)]
    setup: super::Setup,
    /// The articles stream [default: `nats.stream`, else NEWSWATCH_ARTICLES].
    #[arg(long, value_name = "S")]
    stream: Option<String>,
    /// The durable consumer every worker shares [default: `nats.durable`, else newswatch].
    #[arg(long, value_name = "D")]
    durable: Option<String>,
    /// Alerts are published to ALERTS_SUBJECT.RULE [default: `nats.alerts_subject`, else
    /// newswatch.alerts].
    #[arg(long = "alerts-subject", value_name = "S")]
    alerts_subject: Option<String>,
}

pub(crate) fn run(args: Args) -> u8 {
    let (loaded, rules) = match args.setup.load_rules_or_exit() {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let mut settings = match settings(args.nats, &loaded.config) {
        Ok(settings) => settings,
        Err(e) => {
            tracing::error!("{e}");
            return 2;
        }
    };
    let flags = [
        (args.stream, &mut settings.stream, "--stream"),
        (args.durable, &mut settings.durable, "--durable"),
    ];
    for (flag, into, name) in flags {
        if let Some(value) = flag {
            if let Err(e) = crate::config::check_stream_name(&value) {
                tracing::error!("{name}: {e}");
                return 2;
            }
            *into = value;
        }
    }
    if let Some(subject) = args.alerts_subject {
        if let Err(e) = crate::config::check_subject(&subject) {
            tracing::error!("--alerts-subject: {e}");
            return 2;
        }
        settings.alerts_subject = subject;
    }
    for d in rules.diagnostics() {
        tracing::error!("{d}");
    }
    tracing::info!(
        "{} rules loaded from {}",
        rules.rules().len(),
        loaded.rules_dir.display()
    );
    let config = &loaded.config;
    match fleet::consume(
        settings,
        &loaded.rules_dir,
        rules,
        config.ruleset_options(),
        config.limits.max_file_size,
    ) {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!("{e}");
            2
        }
    }
}

/// The fleet's settings: the config's `nats:` (its defaults without one), the server from
/// `--nats` else `nats.url`.
pub(super) fn settings(
    flag: Option<String>,
    config: &crate::config::Config,
) -> Result<Settings, String> {
    let url = match flag {
        Some(url) => {
            crate::outputs::check_nats_url(&url).map_err(|e| format!("--nats: {e}"))?;
            url
        }
        None => config
            .nats
            .as_ref()
            .and_then(|n| n.url.clone())
            .ok_or("no NATS server: give --nats URL (e.g. nats://127.0.0.1:4222) or nats.url in the config")?,
    };
    // A `${VAR}` in `nats:` must be set for the commands that connect (the outputs' are not
    // theirs to need).
    if let Some(unset) = config.unset.iter().find(|u| u.message.starts_with("nats.")) {
        return Err(unset.error().to_string());
    }
    Ok(Settings::new(config.nats.as_ref(), url))
}
