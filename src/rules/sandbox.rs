//! The sandboxed Rhai engine that every rule runs in, and the limits it enforces.
//!
//! One engine is built per [`Ruleset`](super::Ruleset) and shared by all threads. It has no
//! module resolver (no `import` from disk), no `eval`, no `sleep`, and nothing that touches files,
//! processes or the network. Each rule evaluation is bounded by an operation count, a wall-clock
//! deadline, sizes of strings, arrays and maps, and call and expression depth. Every limit is set
//! explicitly, because Rhai's defaults differ between debug and release builds.

use std::time::Duration;

use rhai::module_resolvers::DummyModuleResolver;
use rhai::{Dynamic, Engine, EvalAltResult, FLOAT, INT, OptimizationLevel};

use super::api;

/// Budgets for one evaluation of one rule on one article.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Rhai operations per evaluation (a two-term rule needs about 10).
    pub max_operations: u64,
    /// Wall time per evaluation.
    pub timeout: Duration,
    /// Largest string a rule may build, in bytes. Must exceed the largest article body, since
    /// it also bounds `article.body`.
    pub max_string_size: usize,
    pub max_array_size: usize,
    pub max_map_size: usize,
    /// Depth of nested function calls (recursion).
    pub max_call_depth: usize,
    /// Depth of nested expressions at compile time.
    pub max_expr_depth: usize,
    /// Alerts one rule may raise on one article; more are dropped with a logged note.
    pub max_alerts_per_rule: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_operations: 1_000_000,
            timeout: Duration::from_millis(250),
            max_string_size: 32 << 20,
            max_array_size: 100_000,
            max_map_size: 10_000,
            max_call_depth: 32,
            max_expr_depth: 128,
            max_alerts_per_rule: 100,
        }
    }
}

/// Builds the engine rules run in.
pub(super) fn engine(limits: &Limits) -> Engine {
    let mut engine = Engine::new();
    engine
        .set_module_resolver(DummyModuleResolver::new())
        .disable_symbol("eval")
        .disable_symbol("import")
        .disable_symbol("export")
        .set_optimization_level(OptimizationLevel::Simple)
        .set_strict_variables(true)
        .set_max_strings_interned(0)
        .set_max_operations(limits.max_operations)
        .set_max_call_levels(limits.max_call_depth)
        .set_max_expr_depths(limits.max_expr_depth, limits.max_expr_depth / 2)
        .set_max_string_size(limits.max_string_size)
        .set_max_array_size(limits.max_array_size)
        .set_max_map_size(limits.max_map_size)
        .set_max_variables(1_000)
        .set_max_functions(1_000)
        .set_max_modules(0);

    // The deadline is checked every 1,024 operations: cheap, and a `loop {}` overshoots its
    // budget by microseconds.
    engine.on_progress(|ops| {
        (ops & 1023 == 0 && api::deadline_passed()).then(|| Dynamic::from("timeout"))
    });
    engine.on_print(
        |text| tracing::info!(target: "newswatch::rule", rule = %api::current_rule(), "{text}"),
    );
    engine.on_debug(|text, _source, pos| {
        tracing::info!(target: "newswatch::rule", rule = %api::current_rule(), "{text} (at {pos})")
    });

    // A sleeping rule would hold its thread outside every budget.
    let no_sleep =
        || -> Result<(), Box<EvalAltResult>> { Err("sleep is not available in rules".into()) };
    engine.register_fn("sleep", move |_: INT| no_sleep());
    engine.register_fn("sleep", move |_: FLOAT| no_sleep());

    api::register(&mut engine);
    engine
}
