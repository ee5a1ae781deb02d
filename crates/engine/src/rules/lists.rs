//! Term lists shared by rules: `rules/lists/NAME.txt`, one term per line (`#` comments and
//! blank lines ignored), used in rules as `list("NAME")` — an array of strings.
//!
//! A rule set loads its lists once and every rule and scanner shares them (`Arc`): a list of
//! 50,000 terms used by 1,000 rules is held once. The prefilter sees the terms of a list like
//! literals when the list is small enough to anchor a rule on ([`MAX_PREFILTER_TERMS`]); a
//! longer list makes the rules that use it run on every article rather than copy the list
//! into each rule's condition.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use rhai::ImmutableString;

use super::Diagnostic;

/// The most terms of a list the prefilter takes as literals of each rule using it.
pub(crate) const MAX_PREFILTER_TERMS: usize = 256;

/// The lists of a rules folder, by name.
#[derive(Debug, Default)]
pub(crate) struct Lists(BTreeMap<String, Arc<[ImmutableString]>>);

impl Lists {
    /// Reads `dir/lists/*.txt` (none when the folder does not exist); a list that cannot be
    /// read is a diagnostic, and missing.
    pub(crate) fn load(dir: &Path) -> (Lists, Vec<Diagnostic>) {
        let mut lists = BTreeMap::new();
        let mut problems = Vec::new();
        let Ok(entries) = std::fs::read_dir(dir.join("lists")) else {
            return (Lists(lists), problems);
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "txt") {
                continue;
            }
            let Some(name) = path.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    lists.insert(name.to_string(), parse(&text));
                }
                Err(e) => problems.push(Diagnostic::new(
                    path.clone(),
                    None,
                    format!("cannot read list: {e}"),
                )),
            }
        }
        (Lists(lists), problems)
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Arc<[ImmutableString]>> {
        self.0.get(name)
    }

    /// The lists' names, sorted.
    pub(crate) fn names(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

/// The terms of a list file: one per line, trimmed, without blank lines and `#` comments.
fn parse(text: &str) -> Arc<[ImmutableString]> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(ImmutableString::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_term_per_line_without_comments() {
        let terms = parse("# chips\nH200\n\n  Ascend 910  \n#x\nBlackwell\n");
        let terms: Vec<&str> = terms.iter().map(|t| t.as_str()).collect();
        assert_eq!(terms, ["H200", "Ascend 910", "Blackwell"]);
    }
}
