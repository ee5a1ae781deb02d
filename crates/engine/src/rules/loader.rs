//! Finding rule files: `rules/**/*.rhai`, named by their path, described by their `//!` lines.

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use walkdir::WalkDir;

use crate::Error;

/// A rule's source as found on disk.
pub(super) struct RuleFile {
    /// Relative path without `.rhai`, with `/` separators.
    pub name: String,
    pub path: PathBuf,
    pub source: Result<String, std::io::Error>,
}

/// Every `*.rhai` file under `dir`, sorted by name, read (in parallel). Hidden files and
/// folders are skipped.
pub(super) fn find(dir: &Path) -> Result<Vec<RuleFile>, Error> {
    if !dir.is_dir() {
        return Err(Error::NoRules {
            path: dir.to_path_buf(),
        });
    }
    let mut files = Vec::new();
    let walk = WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
    for entry in walk {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                // One unreadable folder or broken link must not stop the other rules: it is
                // reported like a rule that cannot be read.
                let is_dir = e.path().is_some_and(Path::is_dir) || e.loop_ancestor().is_some();
                if let Error::Skipped { path, reason } = Error::from_walk(e, dir)
                    && (is_dir || path.extension().is_some_and(|x| x == "rhai"))
                {
                    files.push(RuleFile {
                        name: name_of(dir, &path),
                        path,
                        source: Err(std::io::Error::other(reason)),
                    });
                }
                continue;
            }
        };
        let path = entry.path();
        if !entry.file_type().is_file() || path.extension().is_none_or(|e| e != "rhai") {
            continue;
        }
        files.push(RuleFile {
            name: name_of(dir, path),
            path: path.to_path_buf(),
            source: Ok(String::new()),
        });
    }
    files
        .par_iter_mut()
        .filter(|f| f.source.is_ok())
        .for_each(|f| f.source = std::fs::read_to_string(&f.path));
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(files)
}

/// The rule name of `path` under `dir`: `dir/chips/h200.rhai` is `chips/h200`.
pub(crate) fn name_of(dir: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(dir).unwrap_or(path).with_extension("");
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// The leading `//!` lines of a rule, joined by newlines.
pub(super) fn description(source: &str) -> String {
    source
        .lines()
        .map(str::trim_start)
        .take_while(|l| l.starts_with("//!") || l.is_empty())
        .filter_map(|l| l.strip_prefix("//!"))
        .map(str::trim)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether a rule's description leaves it alerting once per story: unless a line of it is
/// `stories: off` (any case, any spaces around the colon).
pub(super) fn once_per_story(description: &str) -> bool {
    !description.lines().any(|l| {
        l.split_once(':').is_some_and(|(key, value)| {
            key.trim().eq_ignore_ascii_case("stories") && value.trim().eq_ignore_ascii_case("off")
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_descriptions() {
        assert_eq!(
            name_of(Path::new("rules"), Path::new("rules/chips/h200.rhai")),
            "chips/h200"
        );
        assert_eq!(
            description("//! One.\n//!   Two.\nlet x = 1;\n//! no"),
            "One.\nTwo."
        );
        assert_eq!(description("let x = 1;"), "");
    }

    #[test]
    fn stories_off_is_a_line_of_the_description() {
        assert!(once_per_story("Chips.\nstories: on"));
        assert!(!once_per_story("Chips.\nStories : OFF"));
        assert!(!once_per_story("stories: off"));
        assert!(once_per_story("every story: off the record"));
    }
}
