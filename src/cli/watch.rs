//! `newswatch watch`: resolve the options, then hand over to the daemon.

use std::path::PathBuf;

use crate::state::State;
use crate::watch::{self, Options};

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Folders to watch (default: `watch:` from the config, else ./inbox, created if missing).
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// The config is re-read on SIGHUP; the rules folder is watched, and changes apply to the
    /// next article.
    #[command(flatten)]
    setup: super::Setup,
    /// State file (default: `state:` from the config, else
    /// $XDG_STATE_HOME/newswatch/state.db or ~/.local/state/newswatch/state.db).
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
}

pub(crate) fn run(args: Args) -> u8 {
    let rules_fixed = args.setup.rules.is_some();
    let super::Loaded {
        config,
        config_path,
        rules_dir,
    } = match args.setup.load_or_exit() {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    // The daemon delivers: every value its outputs read must be there.
    if let Err(e) = config.require_env() {
        tracing::error!("{e}");
        return 2;
    }
    let state_path = state_path(args.state, &config);
    let opts = Options {
        config,
        config_path,
        paths: args.paths,
        rules_dir,
        rules_fixed,
        state_path,
    };
    match watch::run(opts) {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!("{e}");
            2
        }
    }
}

/// `--state`, else the config's `state:`, else the default location.
pub(super) fn state_path(explicit: Option<PathBuf>, config: &crate::config::Config) -> PathBuf {
    explicit
        .or_else(|| config.state.clone())
        .unwrap_or_else(State::default_path)
}
