//! The static pass over a compiled rule: what would fail on every article is refused before
//! the rule ever runs.
//!
//! Rhai compiles `article.mention("x")`, `article.titel` or `near("a", "b")` without a word
//! and fails on them at run time, on every article. This pass walks the rule's AST against the
//! table of what the rule's engine has registered — the same registrations that serve the calls
//! and write `definitions`, read back through Rhai's metadata, so the three cannot drift — and
//! reports, each at its position and with a suggestion by edit distance where one is close:
//!
//! - a function, or a method, that no registration has by that name (script functions of the
//!   rule and Rhai's keywords count), or none with that number of arguments;
//! - a property or method of `article` that it does not have;
//! - literal arguments that cannot work: a severity that is not one of the five, an
//!   `alert(#{...})` without `message`, a regex that does not compile.
//!
//! What is not known statically is left alone: a method on a value whose type depends on the
//! run (anything but `article` itself) is only checked to exist for some type with that number
//! of arguments, so a valid rule is never flagged.

use std::any::TypeId;
use std::collections::{HashMap, HashSet};
use std::path::Path;

use rhai::{AST, ASTNode, Engine, Expr, FnCallExpr, Position};

use super::Diagnostic;
use super::api::{self, ArticleRef};
use super::lists::Lists;
use crate::alert::Severity;

/// Names the engine resolves itself, not through a registration.
const KEYWORDS: &[&str] = &[
    "print",
    "debug",
    "type_of",
    "Fn",
    "call",
    "curry",
    "is_def_var",
    "is_def_fn",
    "is_shared",
];

/// One registered function: how many parameters, and whether the first is `article`.
#[derive(Clone, Debug)]
struct Signature {
    params: usize,
    on_article: bool,
    /// Parameter names as registered (`term: &str`), for messages.
    names: Vec<String>,
}

/// The rule API as the engine has it registered: every function by name.
pub(super) struct Api {
    functions: HashMap<String, Vec<Signature>>,
}

impl Api {
    /// Reads the table of `engine`'s registered functions, standard library included.
    pub(super) fn of(engine: &Engine) -> Api {
        let article = TypeId::of::<ArticleRef>();
        let mut functions: HashMap<String, Vec<Signature>> = HashMap::new();
        let all = engine.collect_fn_metadata(
            None,
            |info| {
                let m = info.metadata;
                Some((
                    m.name.to_string(),
                    Signature {
                        params: m.num_params,
                        on_article: m.param_types.first() == Some(&article),
                        names: m.params_info.iter().map(|p| p.to_string()).collect(),
                    },
                ))
            },
            true,
        );
        for (name, signature) in all {
            functions.entry(name).or_default().push(signature);
        }
        Api { functions }
    }

    /// Names of `article`'s properties (`title`) or methods (`mentions`).
    fn on_article(&self, properties: bool) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .functions
            .iter()
            .filter(|(_, sigs)| sigs.iter().any(|s| s.on_article))
            .filter_map(|(name, _)| match name.strip_prefix("get$") {
                Some(property) if properties => Some(property),
                None if !properties && !name.contains('$') => Some(name.as_str()),
                _ => None,
            })
            .collect();
        names.sort_unstable();
        names
    }
}

/// The problems of the compiled rule `ast` (from the file `path`), in the order of the source.
pub(super) fn lint(api: &Api, lists: &Lists, ast: &AST, path: &Path) -> Vec<Diagnostic> {
    let scripted: HashMap<String, Vec<usize>> =
        ast.iter_functions().fold(HashMap::new(), |mut by_name, f| {
            by_name
                .entry(f.name.to_string())
                .or_insert_with(Vec::new)
                .push(f.params.len());
            by_name
        });
    // A variable may hold a function pointer and be called like a function.
    let mut variables = HashSet::new();
    ast.walk(&mut |nodes: &[ASTNode]| {
        if let Some(ASTNode::Stmt(rhai::Stmt::Var(var, ..))) = nodes.last() {
            variables.insert(var.0.name.to_string());
        }
        true
    });
    let mut pass = Pass {
        api,
        lists,
        scripted,
        variables,
        on_article: HashSet::new(),
        found: Vec::new(),
    };
    ast.walk(&mut |nodes: &[ASTNode]| {
        match nodes.last() {
            Some(ASTNode::Expr(e)) => pass.expr(e),
            // A call standing as a statement is a statement node of its own.
            Some(ASTNode::Stmt(rhai::Stmt::FnCall(call, pos)))
                if call.op_token.is_none() && call.namespace.is_empty() =>
            {
                pass.call(call, *pos);
            }
            _ => {}
        }
        true
    });
    let mut found = pass.found;
    found.sort_by_key(|(pos, _)| (pos.line(), pos.position()));
    found.dedup();
    found
        .into_iter()
        .map(|(pos, message)| Diagnostic::at(path, pos, message))
        .collect()
}

struct Pass<'a> {
    api: &'a Api,
    lists: &'a Lists,
    scripted: HashMap<String, Vec<usize>>,
    variables: HashSet<String>,
    /// Positions of the calls and properties already checked as `article`'s.
    on_article: HashSet<(Option<usize>, Option<usize>)>,
    found: Vec<(Position, String)>,
}

impl Pass<'_> {
    fn expr(&mut self, e: &Expr) {
        match e {
            Expr::FnCall(call, pos) if call.op_token.is_none() && call.namespace.is_empty() => {
                self.call(call, *pos);
            }
            Expr::Dot(chain, ..) if is_article(&chain.lhs) => {
                // `article.x`, `article.x(..)`, or the first link of `article.x.y…`.
                let first = match &chain.rhs {
                    Expr::Dot(rest, ..) | Expr::Index(rest, ..) => &rest.lhs,
                    other => other,
                };
                self.article_link(first);
            }
            Expr::MethodCall(call, pos) if !self.on_article.contains(&key(*pos)) => {
                self.method(call, *pos);
            }
            _ => {}
        }
    }

    /// A plain call `name(args)`.
    fn call(&mut self, call: &FnCallExpr, pos: Position) {
        if !self.variables.contains(call.name.as_str()) {
            self.known(call, pos, Form::Function);
        }
    }

    /// A method call on a value whose type is not known here: it must exist for some type.
    fn method(&mut self, call: &FnCallExpr, pos: Position) {
        self.known(call, pos, Form::Method);
    }

    /// Whether a function of that name exists with that number of arguments (the value a
    /// method is called on counting as the first), among the rule's own and the registered.
    fn known(&mut self, call: &FnCallExpr, pos: Position, form: Form) {
        let name = call.name.as_str();
        let given = call.args.len();
        let args = given + form.receiver();
        if KEYWORDS.contains(&name) {
            return;
        }
        if let Some(arities) = self.scripted.get(name) {
            if !arities.contains(&args) {
                let with = match form {
                    Form::Function => "",
                    Form::Method => " with the value it is called on",
                };
                let message = format!(
                    "`{name}` takes {} arguments{with}, not {args}",
                    list(arities)
                );
                self.found.push((pos, message));
            }
            return;
        }
        match self.api.functions.get(name) {
            None => {
                let mut names: Vec<&str> = self.plain_names().collect();
                names.sort_unstable();
                let what = match form {
                    Form::Function => "function",
                    Form::Method => "method",
                };
                let message = format!("unknown {what} `{name}`{}", suggest(name, &names));
                self.found.push((pos, message));
            }
            Some(sigs) if !sigs.iter().any(|s| s.params == args) => {
                let shown = match form {
                    Form::Function => format!("`{name}`"),
                    Form::Method => format!("`.{name}(…)`"),
                };
                let takes = takes(sigs, form.receiver());
                self.found
                    .push((pos, format!("{shown} {takes}, not {given}")));
            }
            Some(_) => self.literals(name, call, pos),
        }
    }

    /// `article.NAME` or `article.NAME(args)`.
    fn article_link(&mut self, link: &Expr) {
        match link {
            Expr::Property(property, pos) => {
                self.on_article.insert(key(*pos));
                let name = property.2.as_str();
                let getter = format!("get${name}");
                let known = self
                    .api
                    .functions
                    .get(&getter)
                    .is_some_and(|sigs| sigs.iter().any(|s| s.on_article));
                if !known {
                    let names = self.api.on_article(true);
                    let message = format!(
                        "`article` has no property `{name}`{} (it has {})",
                        suggest(name, &names),
                        names.join(", ")
                    );
                    self.found.push((*pos, message));
                }
            }
            Expr::MethodCall(call, pos) => {
                self.on_article.insert(key(*pos));
                let name = call.name.as_str();
                let sigs: Vec<Signature> = self
                    .api
                    .functions
                    .get(name)
                    .map(|sigs| sigs.iter().filter(|s| s.on_article).cloned().collect())
                    .unwrap_or_default();
                if sigs.is_empty() {
                    let names = self.api.on_article(false);
                    let message =
                        format!("`article` has no method `{name}`{}", suggest(name, &names));
                    self.found.push((*pos, message));
                } else if !sigs.iter().any(|s| s.params == call.args.len() + 1) {
                    let message = format!(
                        "`article.{name}` {}, not {}",
                        takes(&sigs, 1),
                        call.args.len()
                    );
                    self.found.push((*pos, message));
                } else {
                    self.literals(name, call, *pos);
                }
            }
            _ => {}
        }
    }

    /// Literal arguments that cannot work, for the functions that take such.
    fn literals(&mut self, name: &str, call: &FnCallExpr, pos: Position) {
        match (name, call.args.as_slice()) {
            ("alert", [Expr::Map(map, map_pos)]) => {
                let entries = map.0.iter().map(|(key, value)| {
                    let literal = match value {
                        Expr::StringConstant(s, at) => Some((s.to_string(), *at)),
                        _ => None,
                    };
                    (key.name.as_str(), literal)
                });
                self.alert_map(entries, *map_pos);
            }
            // A map of constants is folded into one value when the rule compiles.
            ("alert", [Expr::DynamicConstant(value, at)]) if value.is_map() => {
                let map = value.read_lock::<rhai::Map>().expect("a map");
                let entries = map.iter().map(|(key, value)| {
                    let literal = value.clone().into_string().ok().map(|s| (s, *at));
                    (key.as_str(), literal)
                });
                self.alert_map(entries, *at);
            }
            ("list", [Expr::StringConstant(name, at)]) if self.lists.get(name).is_none() => {
                let names = self.lists.names();
                let message = format!(
                    "no list {name:?}: add rules/lists/{name}.txt (one term per line){}",
                    suggest(name, &names)
                );
                self.found.push((*at, message));
            }
            ("matches", [.., Expr::StringConstant(pattern, at)]) => {
                if let Err(e) = api::regex(pattern) {
                    self.found.push((*at, e));
                }
            }
            _ => {
                let _ = pos;
            }
        }
    }

    /// The literal map of `alert(#{...})`: its keys, with the value where it is a string.
    fn alert_map<'k>(
        &mut self,
        entries: impl Iterator<Item = (&'k str, Option<(String, Position)>)>,
        pos: Position,
    ) {
        let mut has_message = false;
        for (key, literal) in entries {
            match (key, literal) {
                ("message", _) => has_message = true,
                ("severity", Some((name, at))) => {
                    if let Err(e) = name.parse::<Severity>() {
                        self.found.push((at, format!("alert {e}")));
                    }
                }
                _ => {}
            }
        }
        if !has_message {
            let message = "alert has no message: add `message: \"…\"` to the map";
            self.found.push((pos, message.into()));
        }
    }

    /// Names a plain call could have meant: registered functions (not getters, setters or
    /// operators) and the rule's own.
    fn plain_names(&self) -> impl Iterator<Item = &str> {
        let registered = self.api.functions.keys().map(String::as_str);
        registered
            .chain(self.scripted.keys().map(String::as_str))
            .filter(|n| {
                n.chars()
                    .next()
                    .is_some_and(|c| c.is_alphabetic() || c == '_')
            })
            .filter(|n| !n.contains('$'))
    }
}

/// How a call is written: `name(args)` or `value.name(args)`.
#[derive(Clone, Copy)]
enum Form {
    Function,
    Method,
}

impl Form {
    /// Arguments before the written ones: the value a method is called on.
    fn receiver(self) -> usize {
        match self {
            Form::Function => 0,
            Form::Method => 1,
        }
    }
}

/// Whether `e` is the rule's `article` variable.
fn is_article(e: &Expr) -> bool {
    matches!(e, Expr::Variable(v, ..) if v.2.is_empty() && v.1 == "article")
}

fn key(pos: Position) -> (Option<usize>, Option<usize>) {
    (pos.line(), pos.position())
}

/// "takes 1 argument (term)" / "takes 2 or 3 arguments", not counting `skip` leading
/// parameters (the value a method is called on).
fn takes(sigs: &[Signature], skip: usize) -> String {
    let mut arities: Vec<usize> = sigs.iter().map(|s| s.params - skip.min(s.params)).collect();
    arities.sort_unstable();
    arities.dedup();
    let names = match sigs {
        [only] => {
            let params: Vec<&str> = only
                .names
                .iter()
                .skip(skip)
                .map(|p| rhai_type(p.rsplit(':').next().unwrap_or(p).trim()))
                .collect();
            if params.is_empty() {
                String::new()
            } else {
                format!(" ({})", params.join(", "))
            }
        }
        _ => String::new(),
    };
    let plural = if arities == [1] {
        "argument"
    } else {
        "arguments"
    };
    format!("takes {} {plural}{names}", list(&arities))
}

/// A parameter's Rust type as rule authors know it.
fn rhai_type(rust: &str) -> &str {
    match rust.trim_start_matches("&mut ").trim_start_matches('&') {
        "str" | "String" | "ImmutableString" => "string",
        "i64" | "INT" => "int",
        "f64" | "FLOAT" => "float",
        "bool" => "bool",
        "Array" => "array",
        "Map" => "map",
        other => other,
    }
}

/// `1`, `1 or 2`, `1, 2 or 3`.
fn list(numbers: &[usize]) -> String {
    let text: Vec<String> = numbers.iter().map(usize::to_string).collect();
    match text.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => "no".into(),
    }
}

/// "; did you mean `mentions`?" for the closest of `names` to `name`, if one is close.
fn suggest(name: &str, names: &[&str]) -> String {
    let limit = (name.chars().count() / 3).max(1);
    names
        .iter()
        .map(|n| (strsim::damerau_levenshtein(name, n), *n))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, n)| format!("; did you mean `{n}`?"))
        .unwrap_or_default()
}
