//! Which files under a watched folder are articles: include and exclude globs.
//!
//! Excludes match any component of the path below the watched folder, so `.*` also skips
//! everything inside `.git/`. Without an include list, the files ingest can read are included.

use std::path::Path;

use globset::{Glob, GlobSet, GlobSetBuilder};

use newswatch_engine::article;

/// Hidden and temporary files: what editors, browsers and downloaders write before the file is
/// complete. Always excluded, in addition to the configured excludes.
pub const DEFAULT_EXCLUDES: &[&str] =
    &[".*", "*.tmp", "*.part", "*.crdownload", "*.swp", "~*", "*~"];

/// Why an `include` or `exclude` list cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    #[error("invalid glob {pattern:?}: {source}")]
    Glob {
        pattern: String,
        source: globset::Error,
    },
    #[error(transparent)]
    Build(globset::Error),
}

#[derive(Debug, Clone)]
pub struct PathFilter {
    include: Option<GlobSet>,
    exclude: GlobSet,
}

impl PathFilter {
    pub fn new(include: &[String], exclude: &[String]) -> Result<PathFilter, FilterError> {
        let build = |patterns: &mut dyn Iterator<Item = &str>| -> Result<GlobSet, FilterError> {
            let mut set = GlobSetBuilder::new();
            for p in patterns {
                set.add(Glob::new(p).map_err(|source| FilterError::Glob {
                    pattern: p.to_string(),
                    source,
                })?);
            }
            set.build().map_err(FilterError::Build)
        };
        let include = if include.is_empty() {
            None
        } else {
            Some(build(&mut include.iter().map(String::as_str))?)
        };
        let exclude = build(
            &mut DEFAULT_EXCLUDES
                .iter()
                .copied()
                .chain(exclude.iter().map(String::as_str)),
        )?;
        Ok(PathFilter { include, exclude })
    }

    /// Whether the file at `rel` (relative to its watched folder) is an article to evaluate.
    pub fn accepts(&self, rel: &Path) -> bool {
        if rel
            .components()
            .any(|c| self.exclude.is_match(c.as_os_str()))
            || self.exclude.is_match(rel)
        {
            return false;
        }
        match &self.include {
            Some(include) => {
                include.is_match(rel) || rel.file_name().is_some_and(|n| include.is_match(n))
            }
            None => article::is_supported(rel),
        }
    }

    /// Whether a folder at `rel` may hold articles (not hidden, not excluded).
    pub fn enters(&self, rel: &Path) -> bool {
        !rel.components()
            .any(|c| self.exclude.is_match(c.as_os_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_temporary_and_unknown_files_are_excluded() {
        let f = PathFilter::new(&[], &["drafts/**".into()]).unwrap();
        for yes in ["a.txt", "sub/b.md", "noext"] {
            assert!(f.accepts(Path::new(yes)), "{yes}");
        }
        for no in [
            ".a.txt",
            ".git/a.txt",
            "a.txt.tmp",
            "a.part",
            "a.crdownload",
            ".a.swp",
            "~a.txt",
            "a.txt~",
            "drafts/x.txt",
            "photo.jpg",
        ] {
            assert!(!f.accepts(Path::new(no)), "{no}");
        }
    }

    #[test]
    fn include_replaces_the_format_list() {
        let f = PathFilter::new(&["*.log".into()], &[]).unwrap();
        assert!(f.accepts(Path::new("x/server.log")));
        assert!(!f.accepts(Path::new("a.txt")));
    }
}
