//! Conditions on an article: what the prefilter decides rules by.
//!
//! A [`Cond`] is a boolean formula over atoms that the prefilter can decide from an article's
//! hits — a term occurs, occurs in the title, occurs so many times, occurs near another — plus
//! [`Cond::Unknown`] for what it cannot tell. [`needs`](super::needs) builds them over the
//! terms as rules spell them; the prefilter maps them onto term ids. The constructors fold
//! constants and simplify as they go (`x || !x`, `x || (x && y)`), so conditions stay small.

use rhai::INT;

/// A condition on an article, over terms of type `T` (spellings, then term ids).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Cond<T> {
    Const(bool),
    /// The walk cannot tell.
    Unknown,
    Mentions(T),
    InTitle(T),
    /// `count(term) CMP n`.
    Count(T, Cmp, INT),
    Near(T, T, u32),
    SameSentence(T, T),
    Not(Box<Cond<T>>),
    And(Vec<Cond<T>>),
    Or(Vec<Cond<T>>),
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    pub fn parse(op: &str) -> Option<Cmp> {
        Some(match op {
            "==" => Cmp::Eq,
            "!=" => Cmp::Ne,
            "<" => Cmp::Lt,
            "<=" => Cmp::Le,
            ">" => Cmp::Gt,
            ">=" => Cmp::Ge,
            _ => return None,
        })
    }

    /// The operator with its operands swapped: `a < b` is `b > a`.
    pub fn swapped(self) -> Cmp {
        match self {
            Cmp::Lt => Cmp::Gt,
            Cmp::Le => Cmp::Ge,
            Cmp::Gt => Cmp::Lt,
            Cmp::Ge => Cmp::Le,
            same => same,
        }
    }

    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Cmp::Eq => "==",
            Cmp::Ne => "!=",
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
        }
    }

    pub fn holds(self, a: INT, b: INT) -> bool {
        match self {
            Cmp::Eq => a == b,
            Cmp::Ne => a != b,
            Cmp::Lt => a < b,
            Cmp::Le => a <= b,
            Cmp::Gt => a > b,
            Cmp::Ge => a >= b,
        }
    }
}

use Cond::{Const, Unknown};

impl<T: Clone + PartialEq> Cond<T> {
    /// Conjunction, folding constants and flattening.
    pub fn and(self, other: Cond<T>) -> Cond<T> {
        match (self, other) {
            (Const(false), _) | (_, Const(false)) => Const(false),
            (Const(true), c) | (c, Const(true)) => c,
            (a, b) => junction(a, b, true),
        }
    }

    /// Disjunction, folding constants and flattening.
    pub fn or(self, other: Cond<T>) -> Cond<T> {
        match (self, other) {
            (Const(true), _) | (_, Const(true)) => Const(true),
            (Const(false), c) | (c, Const(false)) => c,
            (a, b) => junction(a, b, false),
        }
    }

    #[allow(clippy::should_implement_trait)]
    pub fn not(self) -> Cond<T> {
        match self {
            Const(b) => Const(!b),
            Unknown => Unknown,
            Cond::Not(c) => *c,
            c => Cond::Not(Box::new(c)),
        }
    }

    /// Number of nodes.
    pub fn size(&self) -> usize {
        match self {
            Cond::Not(c) => 1 + c.size(),
            Cond::And(cs) | Cond::Or(cs) => 1 + cs.iter().map(Cond::size).sum::<usize>(),
            _ => 1,
        }
    }

    /// The same condition over other terms; `f` returning `None` makes an atom unknown.
    pub fn map<U: Clone + PartialEq>(&self, f: &mut impl FnMut(&T) -> Option<U>) -> Cond<U> {
        let mut atom = |make: &dyn Fn(Vec<U>) -> Cond<U>, terms: &[&T]| match terms
            .iter()
            .map(|t| f(t))
            .collect::<Option<Vec<U>>>()
        {
            Some(ids) => make(ids),
            None => Unknown,
        };
        match self {
            Const(b) => Const(*b),
            Unknown => Unknown,
            Cond::Mentions(t) => atom(&|v| Cond::Mentions(v[0].clone()), &[t]),
            Cond::InTitle(t) => atom(&|v| Cond::InTitle(v[0].clone()), &[t]),
            Cond::Count(t, cmp, n) => atom(&|v| Cond::Count(v[0].clone(), *cmp, *n), &[t]),
            Cond::Near(a, b, n) => atom(&|v| Cond::Near(v[0].clone(), v[1].clone(), *n), &[a, b]),
            Cond::SameSentence(a, b) => {
                atom(&|v| Cond::SameSentence(v[0].clone(), v[1].clone()), &[a, b])
            }
            Cond::Not(c) => c.map(f).not(),
            Cond::And(cs) => cs.iter().fold(Const(true), |acc, c| acc.and(c.map(f))),
            Cond::Or(cs) => cs.iter().fold(Const(false), |acc, c| acc.or(c.map(f))),
        }
    }
}

/// `a && b` (`all`) or `a || b`, flattened, without repeats, with `x || !x` as true (and
/// `x && !x` as false), and absorbed: `x || (x && y)` is `x`, `x && (x || y)` is `x`.
fn junction<T: Clone + PartialEq>(a: Cond<T>, b: Cond<T>, all: bool) -> Cond<T> {
    let split = |c: Cond<T>| match c {
        Cond::And(cs) if all => cs,
        Cond::Or(cs) if !all => cs,
        c => vec![c],
    };
    let mut parts = split(a);
    for c in split(b) {
        if !parts.contains(&c) {
            parts.push(c);
        }
    }
    if parts
        .iter()
        .any(|c| matches!(c, Cond::Not(x) if parts.contains(x)))
    {
        return Const(!all);
    }
    // `x || (x && y)`: the inner junction holds only where a sibling does.
    let absorbed = |c: &Cond<T>| match c {
        Cond::And(inner) if !all => inner.iter().any(|x| parts.contains(x)),
        Cond::Or(inner) if all => inner.iter().any(|x| parts.contains(x)),
        _ => false,
    };
    let keep: Vec<bool> = parts.iter().map(|c| !absorbed(c)).collect();
    let mut keep = keep.into_iter();
    parts.retain(|_| keep.next().unwrap_or(true));
    match parts.len() {
        1 => parts.pop().expect("one part"),
        _ if all => Cond::And(parts),
        _ => Cond::Or(parts),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(t: &str) -> Cond<String> {
        Cond::Mentions(t.to_string())
    }

    #[test]
    fn junctions_fold_and_simplify() {
        assert_eq!(m("a").or(m("a").not()), Const(true));
        assert_eq!(m("a").and(m("a").not()), Const(false));
        assert_eq!(m("a").or(m("a").and(m("b"))), m("a"));
        assert_eq!(m("a").and(m("a").or(m("b"))), m("a"));
        assert_eq!(m("a").or(m("b")).or(m("a")), Cond::Or(vec![m("a"), m("b")]));
        assert_eq!(
            m("a").and(m("b")).and(m("c").and(m("d"))).size(),
            5,
            "flattened"
        );
        assert_eq!(m("a").and(Const(true)), m("a"));
        assert_eq!(Cond::<String>::Unknown.and(Const(false)), Const(false));
        assert_eq!(Cond::<String>::Unknown.or(Const(true)), Const(true));
        assert_eq!(m("a").not().not(), m("a"));
        assert_eq!(Cond::<String>::Unknown.not(), Unknown);
    }

    #[test]
    fn mapping_terms_makes_unmapped_atoms_unknown() {
        let map = |c: Cond<String>| c.map(&mut |t: &String| (t == "a").then_some(1));
        assert_eq!(
            map(m("a").and(m("b").not())),
            Cond::And(vec![Cond::Mentions(1), Unknown])
        );
        // `(a && ?) || ?` is `?`.
        let near = Cond::Near("a".into(), "c".into(), 3);
        assert_eq!(map(m("a").and(m("b").not()).or(near)), Unknown);
    }

    #[test]
    fn comparisons() {
        let gt = Cmp::parse(">").unwrap();
        assert!(gt.holds(3, 2) && !gt.holds(2, 2));
        assert_eq!(gt.swapped(), Cmp::Lt);
        assert_eq!(Cmp::parse("==").unwrap().swapped(), Cmp::Eq);
        assert_eq!(Cmp::parse("+"), None);
    }
}
