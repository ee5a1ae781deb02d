//! The `newswatch` program: the CLI, the config, the watcher daemon, the state store and
//! delivery, around the embeddable engine (`newswatch-engine`).
//!
//! Modules follow the pipeline: `sources` and `watch` find articles, the engine ingests and
//! evaluates them, `state` records alerts, `outbox` and `outputs` deliver them; `config` is the
//! top layer that builds all of these from the YAML, and `cli` ties them together per command.
//! `metrics` counts what the daemon does, for its optional HTTP endpoint. `fleet` is the other
//! daemon: a worker of many around a NATS JetStream server (`consume`), and its producer
//! (`publish`).

mod cli;
mod config;
mod error;
mod feeds;
mod fleet;
mod metrics;
mod outbox;
mod outputs;
mod sources;
mod state;
mod time;
mod watch;

use error::Error;

// Rules' evaluations have a memory budget (`limits.rule_max_memory`) only where the engine's
// meter counts allocations.
#[global_allocator]
static ALLOC: newswatch_engine::memory::MeteredAlloc =
    newswatch_engine::memory::MeteredAlloc::system();

fn main() -> std::process::ExitCode {
    cli::main()
}

/// When something started now and given `timeout` must stop. A timeout from the config can be
/// longer than `Instant` can count: that is no timeout, not a panic.
fn deadline(timeout: std::time::Duration) -> std::time::Instant {
    let now = std::time::Instant::now();
    now.checked_add(timeout)
        .unwrap_or_else(|| now + std::time::Duration::from_secs(100 * 365 * 86_400))
}

/// The text of a caught panic, for the log line that replaces it.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}
