//! What a rule needs from an article before it can do anything: the walk over its AST.
//!
//! [`analyze`] reads a compiled rule and derives, conservatively, a condition on the article —
//! a [`Cond`] over the rule's literal terms — that holds whenever running the rule could have
//! any effect at all: raise an alert, print, fail, or exhaust a budget. Where the condition is
//! false, running the rule would do nothing, so the prefilter does not run it.
//!
//! The walk understands a small, effect-free part of Rhai: the queries on `article` with
//! literal arguments (`mentions`, `mentions_all`, `mentions_any`, `in_title`, `near`,
//! `same_sentence`, and `count` compared with an integer), `!`, `&&`, `||`, `if`/`else`,
//! `return`, blocks, `let`/`const`, and `for` loops over literal arrays of strings, which it
//! unrolls. Anything else — another function (`alert`, `print`, `matches`, …), an assignment, a
//! `while`, a property, an argument it cannot resolve to a literal — is *opaque*: its value is
//! unknown and evaluating it counts as an effect. So a rule that prints before its condition, or
//! defines functions, always runs; a rule whose alerts sit behind `article.mentions("x")` needs
//! `x`.
//!
//! Each statement becomes a [`Flow`]: when it has an effect, and when control goes on to the
//! next statement (a `return` stops it). A block chains them, so `if !article.mentions("x")
//! { return; } alert("…");` needs `x`. Only effect-free paths matter for the result: every
//! path through something opaque already counts as an effect, so nothing the walk assumes
//! (that `article` is the article, that a `let` holds its literal) can be undone unseen.
//!
//! This reads Rhai's `internals` AST, a volatile API: the tests below pin what each construct
//! looks like, and Cargo.toml pins rhai's minor version.

use std::collections::BTreeSet;

use rhai::{AST, ASTFlags, ASTNode, Dynamic, Expr, FnCallExpr, INT, ImmutableString, Stmt};

use super::cond::Cmp;
use super::cond::Cond::{self, Const, Unknown};
use crate::rules::lists::{Lists, MAX_PREFILTER_TERMS};

const TRUE: Cond<ImmutableString> = Const(true);
const FALSE: Cond<ImmutableString> = Const(false);

/// Most AST nodes the walk visits (loops unrolled) before it gives up on a rule.
const MAX_COST: usize = 2_000;
/// Most variables a rule may declare on the paths the walk follows.
const MAX_VARIABLES: usize = 64;
/// Largest condition kept; a larger one means the rule always runs.
const MAX_NODES: usize = 1_000;

/// What [`analyze`] found out about a rule.
#[derive(Clone, Debug)]
pub(crate) struct Needs {
    /// Running the rule on an article can have an effect only where this holds.
    pub effect: Cond<ImmutableString>,
    /// Every literal term the rule passes to a query, anywhere in it: the automaton finds them
    /// for the rule when it runs.
    pub terms: Vec<ImmutableString>,
    /// AST nodes (loops unrolled) the rule evaluates at most before it is known to do nothing.
    pub cost: usize,
    /// The largest literal on those paths: array length or total string bytes.
    pub largest_literal: usize,
}

impl Needs {
    /// A rule that always runs.
    fn always(terms: Vec<ImmutableString>) -> Needs {
        Needs {
            effect: TRUE,
            terms,
            cost: 0,
            largest_literal: 0,
        }
    }
}

/// Analyzes a compiled rule.
pub(crate) fn analyze(ast: &AST, lists: &Lists) -> Needs {
    let mut terms = literal_terms(ast, lists);
    if ast.has_functions() {
        // A rule's own functions may shadow the queries: not worth the risk.
        return Needs::always(terms.into_iter().collect());
    }
    let mut walker = Walker::new(lists);
    let flow = walker.block(ast.statements());
    if walker.gave_up || flow.effect.size() > MAX_NODES {
        return Needs::always(terms.into_iter().collect());
    }
    // The condition's terms are literals the walk resolved; the automaton must know them all.
    flow.effect.map(&mut |t| {
        terms.insert(t.clone());
        Some(())
    });
    Needs {
        effect: flow.effect,
        terms: terms.into_iter().collect(),
        cost: walker.cost,
        largest_literal: walker.largest_literal,
    }
}

/// The query functions on `article` whose string arguments are terms.
const QUERIES: &[&str] = &[
    "mentions",
    "mentions_all",
    "mentions_any",
    "in_title",
    "count",
    "near",
    "same_sentence",
];

/// Every string literal passed to a query, or bound by `let` or `for` to an array of strings
/// (term lists, in practice), anywhere in the rule.
fn literal_terms(ast: &AST, lists: &Lists) -> BTreeSet<ImmutableString> {
    let mut terms = BTreeSet::new();
    let mut add = |e: &Expr| match literal(e, lists) {
        Some((Lit::Str(s), _)) => {
            terms.insert(s);
        }
        Some((Lit::Strs(list), _)) => terms.extend(list),
        _ => {}
    };
    ast.walk(&mut |path: &[ASTNode]| {
        match path.last() {
            Some(ASTNode::Expr(Expr::MethodCall(call, _) | Expr::FnCall(call, _)))
            | Some(ASTNode::Stmt(Stmt::FnCall(call, _)))
                if QUERIES.contains(&call.name.as_str()) =>
            {
                call.args.iter().for_each(&mut add)
            }
            Some(ASTNode::Stmt(Stmt::Var(x, ..))) => add(&x.1),
            Some(ASTNode::Stmt(Stmt::For(x, ..))) => add(&x.2.expr),
            _ => {}
        }
        true
    });
    terms
}

/// A literal value.
#[derive(Clone, Debug)]
enum Lit {
    Int(INT),
    Str(ImmutableString),
    Strs(Vec<ImmutableString>),
    /// Another literal (a bool, a float, an array of other things, …).
    Other,
}

/// The literal `e` is, if it is one, and its size (array length or string bytes). A
/// `list("NAME")` of a list short enough ([`MAX_PREFILTER_TERMS`]) is the array of its terms.
fn literal(e: &Expr, lists: &Lists) -> Option<(Lit, usize)> {
    Some(match e {
        Expr::FnCall(call, _) if call.name == "list" && call.namespace.is_empty() => {
            let [Expr::StringConstant(name, _)] = call.args.as_slice() else {
                return None;
            };
            let terms = lists.get(name).filter(|t| t.len() <= MAX_PREFILTER_TERMS)?;
            let size = terms
                .iter()
                .map(|t| t.len())
                .sum::<usize>()
                .max(terms.len());
            (Lit::Strs(terms.to_vec()), size)
        }
        Expr::StringConstant(s, _) => (Lit::Str(s.clone()), s.len()),
        Expr::IntegerConstant(n, _) => (Lit::Int(*n), 0),
        Expr::DynamicConstant(d, _) => dynamic_literal(d),
        Expr::Array(items, _) => {
            let items: Vec<_> = items
                .iter()
                .map(|e| literal(e, lists))
                .collect::<Option<_>>()?;
            let size = items.iter().map(|(_, s)| s).sum::<usize>().max(items.len());
            let strings: Option<Vec<_>> = items
                .into_iter()
                .map(|(l, _)| match l {
                    Lit::Str(s) => Some(s),
                    _ => None,
                })
                .collect();
            (strings.map_or(Lit::Other, Lit::Strs), size)
        }
        Expr::BoolConstant(..) | Expr::FloatConstant(..) | Expr::CharConstant(..) => {
            (Lit::Other, 0)
        }
        Expr::Unit(_) => (Lit::Other, 0),
        _ => return None,
    })
}

fn dynamic_literal(d: &Dynamic) -> (Lit, usize) {
    if let Ok(n) = d.as_int() {
        return (Lit::Int(n), 0);
    }
    if d.is_string() {
        let s = d.clone().into_immutable_string().expect("a string");
        let len = s.len();
        return (Lit::Str(s), len);
    }
    if let Some(items) = d.read_lock::<rhai::Array>() {
        let strings: Option<Vec<ImmutableString>> = items
            .iter()
            .map(|v| v.clone().into_immutable_string().ok())
            .collect();
        let bytes = strings.iter().flatten().map(|s| s.len()).sum::<usize>();
        return (
            strings.map_or(Lit::Other, Lit::Strs),
            bytes.max(items.len()),
        );
    }
    (Lit::Other, 0)
}

/// What evaluating an expression gives.
enum Val {
    Bool(Cond<ImmutableString>),
    Lit(Lit),
    /// `article.count(term)`.
    Count(ImmutableString),
    /// A value the walk does not follow (reading a variable it does not know).
    Unknown,
}

/// When a statement has an effect, and when control goes on after it.
struct Flow {
    effect: Cond<ImmutableString>,
    falls: Cond<ImmutableString>,
}

const PURE: Flow = Flow {
    effect: FALSE,
    falls: TRUE,
};
const OPAQUE: Flow = Flow {
    effect: TRUE,
    falls: TRUE,
};

/// Chains flows: each one's effect counts only if control got there.
fn chain(flows: Vec<Flow>) -> Flow {
    let mut after = PURE;
    for flow in flows.into_iter().rev() {
        after = Flow {
            effect: flow.effect.or(flow.falls.clone().and(after.effect)),
            falls: flow.falls.and(after.falls),
        };
    }
    after
}

struct Walker<'l> {
    lists: &'l Lists,
    /// Variables in scope, innermost last, with their literal value when the walk knows it.
    scope: Vec<(ImmutableString, Option<Lit>)>,
    cost: usize,
    variables: usize,
    largest_literal: usize,
    gave_up: bool,
}

impl<'l> Walker<'l> {
    fn new(lists: &'l Lists) -> Walker<'l> {
        Walker {
            lists,
            scope: Vec::new(),
            cost: 0,
            variables: 0,
            largest_literal: 0,
            gave_up: false,
        }
    }

    fn spend(&mut self, nodes: usize) {
        self.cost += nodes;
        if self.cost > MAX_COST || self.variables > MAX_VARIABLES {
            self.gave_up = true;
        }
    }

    fn block(&mut self, stmts: &[Stmt]) -> Flow {
        let mark = self.scope.len();
        let mut flows = Vec::with_capacity(stmts.len());
        for stmt in stmts {
            if self.gave_up {
                return OPAQUE;
            }
            let flow = self.stmt(stmt);
            let stops = flow.falls == FALSE;
            flows.push(flow);
            if stops {
                break; // the rest cannot run
            }
        }
        self.scope.truncate(mark);
        chain(flows)
    }

    fn stmt(&mut self, stmt: &Stmt) -> Flow {
        self.spend(1);
        match stmt {
            Stmt::Noop(_) => PURE,
            Stmt::Block(block) => self.block(block.statements()),
            Stmt::Expr(e) => match self.expr(e) {
                Some((_, effect)) => Flow {
                    effect,
                    falls: TRUE,
                },
                None => OPAQUE,
            },
            Stmt::Var(x, ..) => {
                self.variables += 1;
                let (name, init, _) = &**x;
                match self.expr(init) {
                    Some((val, effect)) => {
                        let lit = match val {
                            Val::Lit(lit) => Some(lit),
                            _ => None,
                        };
                        self.scope.push((name.name.clone(), lit));
                        Flow {
                            effect,
                            falls: TRUE,
                        }
                    }
                    None => {
                        self.scope.push((name.name.clone(), None));
                        OPAQUE
                    }
                }
            }
            Stmt::If(x, _) => {
                let Some((Val::Bool(cond), effect)) = self.expr(&x.expr) else {
                    return OPAQUE;
                };
                let then = self.block(x.body.statements());
                let otherwise = self.block(x.branch.statements());
                Flow {
                    effect: effect
                        .or(cond.clone().and(then.effect))
                        .or(cond.clone().not().and(otherwise.effect)),
                    falls: cond
                        .clone()
                        .and(then.falls)
                        .or(cond.not().and(otherwise.falls)),
                }
            }
            Stmt::Return(value, flags, _) if !flags.intersects(ASTFlags::BREAK) => {
                let effect = match value {
                    None => FALSE,
                    Some(e) => self.expr(e).map_or(TRUE, |(_, effect)| effect),
                };
                Flow {
                    effect,
                    falls: FALSE,
                }
            }
            Stmt::For(x, _) => {
                let (var, counter, body) = &**x;
                let Some((Val::Lit(Lit::Strs(items)), effect)) = self.expr(&body.expr) else {
                    return OPAQUE;
                };
                if counter.is_some() {
                    return OPAQUE;
                }
                self.variables += 1;
                let mut flows = vec![Flow {
                    effect,
                    falls: TRUE,
                }];
                for item in items {
                    self.spend(1);
                    self.scope.push((var.name.clone(), Some(Lit::Str(item))));
                    let flow = self.block(body.body.statements());
                    self.scope.pop();
                    let stops = flow.falls == FALSE;
                    flows.push(flow);
                    if stops || self.gave_up {
                        break;
                    }
                }
                chain(flows)
            }
            // `throw`, calls (`alert`, `print`), assignments, other loops, `switch`, `try`…
            _ => OPAQUE,
        }
    }

    fn lookup(&self, name: &str) -> Option<&Option<Lit>> {
        self.scope
            .iter()
            .rev()
            .find(|(n, _)| n.as_str() == name)
            .map(|(_, lit)| lit)
    }

    /// Whether `e` is the variable `article`, not shadowed by the rule.
    fn is_article(&self, e: &Expr) -> bool {
        matches!(e, Expr::Variable(x, ..) if x.2.is_empty() && x.1 == "article")
            && self.lookup("article").is_none()
    }

    /// The value of `e` and when evaluating it has an effect; `None` when `e` is opaque.
    fn expr(&mut self, e: &Expr) -> Option<(Val, Cond<ImmutableString>)> {
        self.spend(1);
        let pure = |val| Some((val, FALSE));
        match e {
            Expr::BoolConstant(b, _) => pure(Val::Bool(Const(*b))),
            Expr::Variable(x, ..) if x.2.is_empty() => match self.lookup(&x.1) {
                Some(Some(lit)) => pure(Val::Lit(lit.clone())),
                _ => pure(Val::Unknown),
            },
            Expr::Dot(x, flags, _) if !flags.intersects(ASTFlags::NEGATED) => match &x.rhs {
                Expr::MethodCall(call, _)
                    if self.is_article(&x.lhs) && call.namespace.is_empty() =>
                {
                    self.query(call, &call.args)
                }
                _ => None,
            },
            Expr::FnCall(call, _) if call.namespace.is_empty() => {
                if call.is_operator_call() {
                    self.operator(call)
                } else if call.args.first().is_some_and(|a| self.is_article(a)) {
                    self.query(call, &call.args[1..])
                } else {
                    // `list("NAME")`: the list's terms, like an array literal.
                    let (lit, size) = literal(e, self.lists)?;
                    self.spend(size.min(MAX_COST));
                    self.largest_literal = self.largest_literal.max(size);
                    pure(Val::Lit(lit))
                }
            }
            Expr::And(list, _) => Some(self.junction(list, true)),
            Expr::Or(list, _) => Some(self.junction(list, false)),
            _ => {
                let (lit, size) = literal(e, self.lists)?;
                self.spend(size.min(MAX_COST));
                self.largest_literal = self.largest_literal.max(size);
                pure(Val::Lit(lit))
            }
        }
    }

    /// `a && b && …` (`all`) or `a || b || …`: each operand runs only if the ones before did
    /// not decide.
    fn junction(&mut self, operands: &[Expr], all: bool) -> (Val, Cond<ImmutableString>) {
        let mut value = Const(all);
        let mut effect = FALSE;
        let mut reached = TRUE;
        for operand in operands {
            let (v, e) = match self.expr(operand) {
                Some((Val::Bool(v), e)) => (v, e),
                _ => (Unknown, TRUE),
            };
            effect = effect.or(reached.clone().and(e));
            reached = reached.and(if all { v.clone() } else { v.clone().not() });
            value = if all { value.and(v) } else { value.or(v) };
        }
        (Val::Bool(value), effect)
    }

    fn operator(&mut self, call: &FnCallExpr) -> Option<(Val, Cond<ImmutableString>)> {
        match &call.args[..] {
            [arg] if call.name == "!" => match self.expr(arg)? {
                (Val::Bool(c), effect) => Some((Val::Bool(c.not()), effect)),
                _ => None,
            },
            [a, b] => {
                let cmp = Cmp::parse(&call.name)?;
                let (a, b) = (self.expr(a)?, self.expr(b)?);
                let effect = a.1.or(b.1);
                let cond = match (a.0, b.0) {
                    (Val::Count(t), Val::Lit(Lit::Int(n))) => Cond::Count(t, cmp, n),
                    (Val::Lit(Lit::Int(n)), Val::Count(t)) => Cond::Count(t, cmp.swapped(), n),
                    _ => return None,
                };
                Some((Val::Bool(cond), effect))
            }
            _ => None,
        }
    }

    /// A query on `article` with arguments `args`.
    fn query(&mut self, call: &FnCallExpr, args: &[Expr]) -> Option<(Val, Cond<ImmutableString>)> {
        let mut lits = Vec::with_capacity(args.len());
        let mut effect = FALSE;
        for arg in args {
            match self.expr(arg)? {
                (Val::Lit(lit), e) => {
                    lits.push(lit);
                    effect = effect.or(e);
                }
                _ => return None,
            }
        }
        use Lit::{Int, Str, Strs};
        let val = match (call.name.as_str(), &lits[..]) {
            ("mentions", [Str(t)]) => Val::Bool(Cond::Mentions(t.clone())),
            ("in_title", [Str(t)]) => Val::Bool(Cond::InTitle(t.clone())),
            ("mentions_all", [Strs(ts)]) => Val::Bool(
                ts.iter()
                    .fold(TRUE, |c, t| c.and(Cond::Mentions(t.clone()))),
            ),
            ("mentions_any", [Strs(ts)]) => Val::Bool(
                ts.iter()
                    .fold(FALSE, |c, t| c.or(Cond::Mentions(t.clone()))),
            ),
            ("count", [Str(t)]) => Val::Count(t.clone()),
            ("near", [Str(a), Str(b), Int(n)]) => {
                Val::Bool(Cond::Near(a.clone(), b.clone(), u32::try_from(*n).ok()?))
            }
            ("same_sentence", [Str(a), Str(b)]) => {
                Val::Bool(Cond::SameSentence(a.clone(), b.clone()))
            }
            _ => return None,
        };
        Some((val, effect))
    }
}

#[cfg(test)]
mod tests;
