//! The sandboxed Rhai engine that every rule runs in, and the limits it enforces.
//!
//! Each [`Scanner`](super::Scanner) builds its engine (cheaply: Rhai's standard library is
//! built once per [`Ruleset`](super::Ruleset) and shared), so what a rule records while it runs
//! stays with the scanner. It has no
//! module resolver (no `import` from disk), no `eval`, no `sleep`, and nothing that touches files,
//! processes or the network. Each rule evaluation is bounded by an operation count, a wall-clock
//! deadline, sizes of strings, arrays and maps, and call and expression depth. Every limit is set
//! explicitly, because Rhai's defaults differ between debug and release builds.

use std::sync::Arc;

use rhai::module_resolvers::DummyModuleResolver;
use rhai::{Dynamic, Engine, EvalAltResult, FLOAT, INT, OptimizationLevel};

use super::lists::Lists;
use super::{Limits, api};

/// What the progress hook stops a rule with when it has allocated more than its budget (a
/// timeout is `"timeout"`).
pub(super) const MEMORY_SPENT: &str = "memory";

/// Rhai's standard library, built once per rule set and shared by the engines of its
/// scanners (building it is most of what `Engine::new` costs).
pub(super) fn standard_library() -> rhai::Shared<rhai::Module> {
    use rhai::packages::Package;
    rhai::packages::StandardPackage::new().as_shared_module()
}

/// Builds an engine rules run in: `std` is [`standard_library`], and `frame` is where the
/// API functions record what the rule does (see [`api::Frame`]).
pub(super) fn engine(
    limits: &Limits,
    std: &rhai::Shared<rhai::Module>,
    lists: &Arc<Lists>,
    frame: &api::FrameRef,
) -> Engine {
    let mut engine = Engine::new_raw();
    engine.register_global_module(std.clone());
    engine
        .set_module_resolver(DummyModuleResolver::new())
        .disable_symbol("eval")
        .disable_symbol("import")
        .disable_symbol("export")
        .set_optimization_level(OptimizationLevel::Simple)
        .set_strict_variables(true)
        .set_max_strings_interned(0)
        .set_max_variables(1_000)
        .set_max_functions(1_000)
        .set_max_modules(0);
    apply(&mut engine, limits);

    // The deadline is checked every 1,024 operations: cheap, and a `loop {}` overshoots its
    // budget by microseconds. Memory is checked at every one (a thread-local read), as one
    // operation may allocate a whole string.
    let f = frame.clone();
    engine.on_progress(move |ops| {
        if f.memory_spent() {
            Some(Dynamic::from(MEMORY_SPENT))
        } else {
            (ops & 1023 == 0 && f.deadline_passed()).then(|| Dynamic::from("timeout"))
        }
    });
    on_print(&mut engine, frame, Arc::new(log_print));

    // A sleeping rule would hold its thread outside every budget.
    let no_sleep =
        || -> Result<(), Box<EvalAltResult>> { Err("sleep is not available in rules".into()) };
    engine.register_fn("sleep", move |_: INT| no_sleep());
    engine.register_fn("sleep", move |_: FLOAT| no_sleep());
    register_checked_replace(&mut engine);
    register_list(&mut engine, lists);

    api::register(&mut engine, frame);
    engine
}

/// `list("NAME")`: the terms of `rules/lists/NAME.txt`, as an array of strings (the list is
/// shared; each call builds the array of its terms).
fn register_list(engine: &mut Engine, lists: &Arc<Lists>) {
    let lists = lists.clone();
    engine.register_fn(
        "list",
        move |name: &str| -> Result<rhai::Array, Box<EvalAltResult>> {
            let terms = lists.get(name).ok_or_else(|| {
                format!(
                    "no list {name:?} in the rules folder's lists/ ({name}.txt); the lists are: {}",
                    lists.names().join(", ")
                )
            })?;
            Ok(terms.iter().cloned().map(Dynamic::from).collect())
        },
    );
}

/// Sets the budgets of `limits` on `engine`. Every one is set, because Rhai's defaults differ
/// between debug and release builds.
pub(super) fn apply(engine: &mut Engine, limits: &Limits) {
    engine
        .set_max_operations(limits.max_operations)
        .set_max_call_levels(limits.max_call_depth)
        .set_max_expr_depths(limits.max_expr_depth, limits.max_expr_depth / 2)
        .set_max_string_size(limits.max_string_size)
        .set_max_array_size(limits.max_array_size)
        .set_max_map_size(limits.max_map_size);
}

/// Where `print` and `debug` in rules go: `print(rule, text)`.
pub(super) type PrintFn = Arc<dyn Fn(&str, &str) + Send + Sync>;

/// The default for `print` and `debug`: the log, tagged with the rule's name.
fn log_print(rule: &str, text: &str) {
    tracing::info!(target: "newswatch::rule", rule = %rule, "{text}");
}

/// Sends `print` and `debug` of rules run by `engine` to `print`, at most
/// [`api::MAX_PRINT_BYTES`] per rule and article (then one line says the rest was dropped).
pub(super) fn on_print(engine: &mut Engine, frame: &api::FrameRef, print: PrintFn) {
    let limited = move |frame: &api::FrameRef, text: &str| {
        let allowance = frame.lock().print_allowance(text.len());
        let rule = frame.current_rule();
        let cut = |at: usize| {
            let at = (0..=at)
                .rev()
                .find(|&i| text.is_char_boundary(i))
                .unwrap_or(0);
            &text[..at]
        };
        match allowance {
            api::PrintAllowance::All => print(&rule, text),
            api::PrintAllowance::Prefix(left) => {
                print(&rule, cut(left));
                print(
                    &rule,
                    &format!(
                        "(the rule printed more than {} KiB on this article: the rest is dropped)",
                        api::MAX_PRINT_BYTES >> 10
                    ),
                );
            }
            api::PrintAllowance::Nothing => {}
        }
    };
    let limited = Arc::new(limited);
    let (f, l) = (frame.clone(), limited.clone());
    engine.on_print(move |text| l(&f, text));
    let f = frame.clone();
    engine.on_debug(move |text, _source, pos| limited(&f, &format!("{text} (at {pos})")));
}

/// `replace` on strings, refusing before it allocates a result over the string limit (Rhai's
/// own checks the size of the result it has already built: `s.replace("a", s)` on a
/// megabyte could ask for a terabyte, and the process would abort).
fn register_checked_replace(engine: &mut Engine) {
    use rhai::{ImmutableString, NativeCallContext};
    fn replace(
        ctx: &NativeCallContext,
        string: &mut ImmutableString,
        find: &str,
        sub: &str,
    ) -> Result<(), Box<EvalAltResult>> {
        if string.is_empty() {
            return Ok(());
        }
        let max = ctx.engine().max_string_size();
        let count = if find.is_empty() {
            string.chars().count() + 1
        } else {
            string.matches(find).count()
        };
        let len =
            (string.len() - count * find.len()).saturating_add(count.saturating_mul(sub.len()));
        if max > 0 && len > max {
            let pos = ctx.call_position();
            return Err(EvalAltResult::ErrorDataTooLarge("replace() result".into(), pos).into());
        }
        *string = string.replace(find, sub).into();
        Ok(())
    }
    engine
        .register_fn(
            "replace",
            |ctx: NativeCallContext, s: &mut ImmutableString, f: &str, r: &str| {
                replace(&ctx, s, f, r)
            },
        )
        .register_fn(
            "replace",
            |ctx: NativeCallContext, s: &mut ImmutableString, f: &str, r: char| {
                replace(&ctx, s, f, &r.to_string())
            },
        )
        .register_fn(
            "replace",
            |ctx: NativeCallContext, s: &mut ImmutableString, f: char, r: &str| {
                replace(&ctx, s, &f.to_string(), r)
            },
        )
        .register_fn(
            "replace",
            |ctx: NativeCallContext, s: &mut ImmutableString, f: char, r: char| {
                replace(&ctx, s, &f.to_string(), &r.to_string())
            },
        );
}

/// Writes Rhai definition files (`.d.rhai`) for the rule API into `dir`, so editors with the
/// Rhai language server complete and check rules: Rhai's standard library as rules see it
/// (generated by Rhai), `article` in scope, and the newswatch API, documented, in place of the
/// generated lines (which lose the return types of functions that can fail).
pub fn write_definitions(dir: &std::path::Path) -> std::io::Result<()> {
    let engine = engine(
        &Limits::default(),
        &standard_library(),
        &Arc::new(Lists::default()),
        &api::FrameRef::new(),
    );
    let mut scope = rhai::Scope::new();
    scope.push("article", api::ArticleRef::placeholder());
    engine.definitions_with_scope(&scope).write_to_dir(dir)?;
    // Rhai lists `eval` among the built-ins although the engine refuses it: an editor must not
    // offer what no rule may call.
    let builtin = dir.join("__builtin__.d.rhai");
    let kept = without_functions(&std::fs::read_to_string(&builtin)?, &["eval"]);
    std::fs::write(&builtin, kept)?;
    let path = dir.join("__static__.d.rhai");
    let generated = std::fs::read_to_string(&path)?;
    let ours = |line: &str| {
        API_NAMES.iter().any(|n| {
            line.starts_with(&format!("fn {n}(")) || line.starts_with(&format!("fn get {n}("))
        })
    };
    let mut out = String::from(API_DEFINITIONS);
    for line in generated.lines().skip_while(|l| l.starts_with("module")) {
        if !ours(line) {
            out.push_str(line);
            out.push('\n');
        }
    }
    std::fs::write(path, format!("module static;\n\n{out}"))
}

/// Where a function or closure of `ast` names `article`, which it cannot see: Rhai functions
/// see only their parameters, so the rule would fail on every article. Found at compile time
/// instead. Rules that name a parameter `article` are left alone.
pub(super) fn article_in_function(ast: &rhai::AST) -> Option<rhai::Position> {
    if ast.iter_functions().any(|f| {
        f.params
            .iter()
            .any(|p| p.trim_start().starts_with("article"))
    }) {
        return None;
    }
    let mut found = None;
    ast.clone_functions_only()
        .walk(&mut |path: &[rhai::ASTNode]| {
            if let Some(rhai::ASTNode::Expr(e @ rhai::Expr::Variable(x, ..))) = path.last()
                && x.2.is_empty()
                && x.1 == "article"
            {
                found = Some(e.start_position());
                return false;
            }
            true
        });
    found
}

/// `definitions` without the declarations of `names`, each with the doc comment above it.
fn without_functions(definitions: &str, names: &[&str]) -> String {
    let mut out = String::new();
    let mut docs = String::new();
    for line in definitions.lines() {
        if line.starts_with("///") {
            docs.push_str(line);
            docs.push('\n');
            continue;
        }
        let dropped = names.iter().any(|n| line.starts_with(&format!("fn {n}(")));
        if !dropped {
            out.push_str(&docs);
            out.push_str(line);
            out.push('\n');
        }
        docs.clear();
    }
    out.push_str(&docs);
    out
}

const API_NAMES: &[&str] = &[
    "alert",
    "list",
    "count",
    "in_title",
    "matches",
    "mentions",
    "mentions_all",
    "mentions_any",
    "near",
    "same_sentence",
    "sleep",
    // Our checked `replace` replaces Rhai's, which the standard library's file declares.
    "replace",
    "body",
    "lang",
    "meta",
    "path",
    "published",
    "source",
    "text",
    "title",
    "url",
];

const API_DEFINITIONS: &str = r#"/// The article's title.
fn get title(_: Article) -> string;
/// The article's body.
fn get body(_: Article) -> string;
/// The title, a blank line, and the body.
fn get text(_: Article) -> string;
/// The article's URL, or `()`.
fn get url(_: Article) -> ?;
/// Publication time as the source gave it (RFC 3339 when known), or `()`.
fn get published(_: Article) -> ?;
/// The watched folder's name or the feed's title.
fn get source(_: Article) -> ?;
/// The file the article came from, or `()`.
fn get path(_: Article) -> ?;
/// The detected language (ISO 639-1, e.g. "fr"), or `()` when unsure.
fn get lang(_: Article) -> ?;
/// Extra fields: front matter, JSON fields, … (a map).
fn get meta(_: Article) -> map;
/// Whether `term` occurs as whole words in the title or body, case- and accent-insensitive.
/// Several words are a phrase; a trailing `*` makes the last word a prefix (`chip*`).
fn mentions(article: Article, term: string) -> bool;
/// Whether all the terms occur.
fn mentions_all(article: Article, terms: array) -> bool;
/// Whether any of the terms occurs.
fn mentions_any(article: Article, terms: array) -> bool;
/// How many times `term` occurs in title and body.
fn count(article: Article, term: string) -> int;
/// Whether `a` and `b` occur with at most `n` words between them, in the title or in the body.
fn near(article: Article, a: string, b: string, n: int) -> bool;
/// Whether `a` and `b` occur in one sentence.
fn same_sentence(article: Article, a: string, b: string) -> bool;
/// Like `mentions`, in the title only.
fn in_title(article: Article, term: string) -> bool;
/// Whether the Rust `regex` pattern matches the raw text (title, blank line, body).
fn matches(article: Article, pattern: string) -> bool;
/// The terms of the list `rules/lists/NAME.txt`, one per line.
fn list(name: string) -> array;
/// Raises an alert with this message (severity `medium`).
fn alert(message: string) -> ();
/// Raises an alert: `message` (required), `severity` (`info`, `low`, `medium`, `high`,
/// `critical`), `tags` (array), `key` (dedup key); other keys go into the alert's `fields`.
fn alert(alert: map) -> ();

"#;
