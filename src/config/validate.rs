//! What the types of the config cannot say: checked once a section is read, for every command.
//!
//! `${VAR}` is expanded here too, since an unset variable is a problem of the config like any
//! other. Checks only look at values (and the environment): they create no file, start no
//! thread and open no connection, so `newswatch check` can run them on any config. The checks
//! of an output are also what [`super::build_routes`] runs on outputs built in code.

use std::fmt;
use std::path::{Path, PathBuf};

use globset::Glob;

use super::yaml::KeyPath;
use newswatch_engine::rules::MAX_TEXT_SIZE;

use super::{
    LimitsConfig, OutputConfig, OutputKind, RetryConfig, Startup, ThrottleConfig, WatchConfig,
};

/// A problem in a config value: which key, and what is wrong (and what to do).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub key: KeyPath,
    pub message: String,
    /// An environment variable the value reads is unset: a problem only for the commands that
    /// use the value (see `Config::require_env`).
    pub unset: bool,
}

impl Problem {
    pub(super) fn new(key: KeyPath, message: impl Into<String>) -> Problem {
        Problem {
            key,
            message: message.into(),
            unset: false,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// A part of the config that checks itself once read.
pub trait Section {
    /// Expands `${VAR}` (and `~/` in paths) in place, then lists the problems of the values;
    /// `at` is where this part is in the config.
    fn validate(&mut self, at: &KeyPath) -> Vec<Problem>;
}

impl<T: Section> Section for Vec<T> {
    fn validate(&mut self, at: &KeyPath) -> Vec<Problem> {
        let entries = self.iter_mut().enumerate();
        entries
            .flat_map(|(i, e)| e.validate(&at.index(i)))
            .collect()
    }
}

/// `rules:`, `state:`.
impl Section for Option<PathBuf> {
    fn validate(&mut self, at: &KeyPath) -> Vec<Problem> {
        let mut problems = Vec::new();
        if let Some(path) = self {
            expand_path(path, at, &mut problems);
        }
        problems
    }
}

/// `disabled:`: each a glob over rule names.
impl Section for super::Disabled {
    fn validate(&mut self, at: &KeyPath) -> Vec<Problem> {
        let mut problems = Vec::new();
        globs(&self.0, at, &mut problems);
        problems
    }
}

impl Section for Startup {
    fn validate(&mut self, _: &KeyPath) -> Vec<Problem> {
        Vec::new()
    }
}

impl Section for super::StoriesConfig {
    fn validate(&mut self, _: &KeyPath) -> Vec<Problem> {
        Vec::new()
    }
}

impl Section for ThrottleConfig {
    fn validate(&mut self, _: &KeyPath) -> Vec<Problem> {
        Vec::new()
    }
}

impl Section for WatchConfig {
    fn validate(&mut self, at: &KeyPath) -> Vec<Problem> {
        let mut problems = Vec::new();
        expand_path(&mut self.path, &at.key("path"), &mut problems);
        for (key, patterns) in [("include", &self.include), ("exclude", &self.exclude)] {
            globs(patterns, &at.key(key), &mut problems);
        }
        problems
    }
}

impl Section for LimitsConfig {
    fn validate(&mut self, at: &KeyPath) -> Vec<Problem> {
        let mut problems: Vec<Problem> = self
            .rules
            .problems()
            .into_iter()
            .map(|p| Problem::new(at.key(p.key), p.message))
            .collect();
        if self.max_file_size == 0 {
            let default = LimitsConfig::default().max_file_size.to_string();
            problems.insert(0, positive(at.key("max_file_size"), &default));
        }
        // `article.body` is a Rhai string: it must fit, decoded (Latin-1 can double in UTF-8).
        let string_size = self.rules.max_string_size as u64;
        if string_size != 0 && string_size < self.max_file_size.saturating_mul(2) {
            problems.push(Problem::new(
                at.key("rule_max_string_size"),
                format!(
                    "{string_size} bytes is less than twice limits.max_file_size ({} bytes): rules could not read the larger articles; raise it to at least {}",
                    self.max_file_size,
                    self.max_file_size.saturating_mul(2)
                ),
            ));
        }
        // What the engine indexes in one article.
        if self.max_file_size > MAX_TEXT_SIZE {
            problems.push(Problem::new(
                at.key("max_file_size"),
                format!(
                    "{} bytes is more than newswatch reads in one file (4 GiB)",
                    self.max_file_size
                ),
            ));
        }
        problems
    }
}

impl Section for RetryConfig {
    fn validate(&mut self, at: &KeyPath) -> Vec<Problem> {
        let d = RetryConfig::default();
        let mut problems: Vec<Problem> = [
            ("initial", self.initial, d.initial),
            ("max", self.max, d.max),
            ("give_up_after", self.give_up_after, d.give_up_after),
        ]
        .into_iter()
        .filter(|(_, value, _)| value.is_zero())
        .map(|(key, _, default)| positive(at.key(key), &format!("{default:?}")))
        .collect();
        if problems.is_empty() && self.max < self.initial {
            problems.push(Problem::new(
                at.key("max"),
                format!(
                    "{:?} is shorter than retry.initial ({:?}): make it at least as long",
                    self.max, self.initial
                ),
            ));
        }
        problems
    }
}

impl Section for OutputConfig {
    fn validate(&mut self, at: &KeyPath) -> Vec<Problem> {
        let mut problems = Vec::new();
        if let Some(path) = &mut self.path {
            expand_path(path, &at.key("path"), &mut problems);
        }
        for (i, arg) in self.command.iter_mut().flatten().enumerate() {
            expand(arg, &at.key("command").index(i), &mut problems);
        }
        if let Some(path) = &mut self.credentials {
            expand_path(path, &at.key("credentials"), &mut problems);
        }
        if let Some(url) = &mut self.url {
            if url.contains("${") {
                self.url_as_written = Some(url.clone());
            }
            expand(url, &at.key("url"), &mut problems);
        }
        for (name, value) in self.headers.iter_mut() {
            expand(value, &at.key("headers").key(name), &mut problems);
        }
        // A value with an unset variable is not checked further: one problem is enough.
        let unexpanded: Vec<KeyPath> = problems.iter().map(|p| p.key.clone()).collect();
        let checks = self.problems(at);
        problems.extend(checks.into_iter().filter(|p| !unexpanded.contains(&p.key)));
        problems
    }
}

impl OutputConfig {
    /// The problems of this output's values (after `${VAR}` expansion), `at` being where it is
    /// in the config: what its type needs and nothing it does not use, a webhook URL, header
    /// names and values, globs, timeouts.
    pub fn problems(&self, at: &KeyPath) -> Vec<Problem> {
        let kind = format!("{:?}", self.kind).to_lowercase();
        let mut problems = Vec::new();
        let is = |k: OutputKind| self.kind == k;
        let needs = [
            (
                is(OutputKind::File) && self.path.is_none(),
                "path",
                "path: alerts.jsonl",
            ),
            (
                is(OutputKind::Command) && self.command.as_ref().is_none_or(Vec::is_empty),
                "command",
                "command: [program, args…]",
            ),
            (
                is(OutputKind::Webhook) && self.url.is_none(),
                "url",
                "url: https://…",
            ),
            (
                is(OutputKind::Nats) && self.url.is_none(),
                "url",
                "url: nats://127.0.0.1:4222",
            ),
        ];
        for (missing, key, example) in needs {
            if missing {
                let message = format!("an output of type {kind} needs `{key}` (e.g. `{example}`)");
                problems.push(Problem::new(at.clone(), message));
            }
        }
        let unused = [
            (!is(OutputKind::File) && self.path.is_some(), "path"),
            (
                !is(OutputKind::Command) && self.command.is_some(),
                "command",
            ),
            (
                !is(OutputKind::Webhook) && !is(OutputKind::Nats) && self.url.is_some(),
                "url",
            ),
            (!is(OutputKind::Nats) && self.subject.is_some(), "subject"),
            (!is(OutputKind::Nats) && self.stream.is_some(), "stream"),
            (
                !is(OutputKind::Nats) && self.credentials.is_some(),
                "credentials",
            ),
            (
                !is(OutputKind::Webhook) && !self.headers.is_empty(),
                "headers",
            ),
            (
                !is(OutputKind::Webhook)
                    && !is(OutputKind::Command)
                    && !is(OutputKind::Nats)
                    && self.timeout.is_some(),
                "timeout",
            ),
            (
                !is(OutputKind::Command) && !self.permanent_exit_codes.is_empty(),
                "permanent_exit_codes",
            ),
        ];
        for (_, key) in unused.into_iter().filter(|(present, _)| *present) {
            let message = format!("does not apply to an output of type {kind}: remove it");
            problems.push(Problem::new(at.key(key), message));
        }
        if let Some(path) = &self.path
            && path.as_os_str().is_empty()
        {
            let message = "empty: give the file to append alerts to, e.g. alerts.jsonl";
            problems.push(Problem::new(at.key("path"), message));
        }
        if let Some(program) = self.command.iter().flatten().next()
            && program.trim().is_empty()
        {
            let message = "the program to run is empty: give its name or path first";
            problems.push(Problem::new(at.key("command").index(0), message));
        }
        if let Some(url) = &self.url {
            let checked = if is(OutputKind::Nats) {
                crate::outputs::check_nats_url(url)
            } else {
                crate::outputs::check_webhook_url(url)
            };
            if let Err(e) = checked {
                problems.push(Problem::new(at.key("url"), e));
            }
        }
        if let Some(subject) = &self.subject
            && let Err(e) = super::nats::check_subject(subject)
        {
            problems.push(Problem::new(at.key("subject"), e));
        }
        if let Some(stream) = &self.stream
            && let Err(e) = super::nats::check_stream_name(stream)
        {
            problems.push(Problem::new(at.key("stream"), e));
        }
        for (name, value) in &self.headers {
            if let Err(e) = check_header(name, value) {
                problems.push(Problem::new(at.key("headers").key(name), e));
            }
        }
        for (i, &code) in self.permanent_exit_codes.iter().enumerate() {
            if !(1..=255).contains(&code) {
                let message = format!(
                    "{code} is not an exit code that means failure: give codes from 1 to 255"
                );
                problems.push(Problem::new(
                    at.key("permanent_exit_codes").index(i),
                    message,
                ));
            }
        }
        if self.timeout.is_some_and(|t| t.is_zero()) {
            let message = "0 fails every delivery: give a time such as 10s, or leave it out";
            problems.push(Problem::new(at.key("timeout"), message));
        }
        if let Some(name) = &self.name {
            if name.trim().is_empty() {
                let message = "empty: give the name logs and `newswatch alerts` show, or leave it out for the type and target";
                problems.push(Problem::new(at.key("name"), message));
            } else if name.chars().any(char::is_control) {
                let message =
                    "a name is one line: it cannot hold line breaks or control characters";
                problems.push(Problem::new(at.key("name"), message));
            }
        }
        globs(&self.rules, &at.key("rules"), &mut problems);
        if let Some(digest) = &self.digest {
            let at = at.key("digest");
            if let Err(e) = crate::outputs::Schedule::new(digest.every, digest.at.as_deref()) {
                let key = if e.starts_with("at:") {
                    at.key("at")
                } else {
                    at.key("every")
                };
                let message = e.trim_start_matches("at:").trim_start().to_string();
                problems.push(Problem::new(key, message));
            }
        }
        problems
    }
}

/// The problems across the entries of `outputs:` (at `at`): two given the same `name:`, which
/// logs and `newswatch alerts` could not tell apart. Names that are not given (type and target)
/// may repeat: such outputs are told apart by a `#N` suffix.
pub fn output_names(outputs: &[OutputConfig], at: &KeyPath) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (i, output) in outputs.iter().enumerate() {
        let Some(name) = &output.name else { continue };
        if let Some(first) = outputs[..i]
            .iter()
            .position(|o| o.name.as_deref() == Some(name))
        {
            let message = format!(
                "{name:?} is already the name of {}: give each output its own name",
                at.index(first)
            );
            problems.push(Problem::new(at.index(i).key("name"), message));
        }
    }
    problems
}

/// A problem for a value that must be more than zero.
fn positive(key: KeyPath, default: &str) -> Problem {
    let message = format!("must be more than 0; leave the key out for the default ({default})");
    Problem::new(key, message)
}

/// Checks an HTTP header's name and value as they will be sent.
fn check_header(name: &str, value: &str) -> Result<(), String> {
    ureq::http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
        format!("{name:?} is not a valid HTTP header name: use letters, digits and `-`")
    })?;
    ureq::http::HeaderValue::from_str(value).map_err(|_| {
        "not a valid HTTP header value: it cannot hold line breaks or control characters"
            .to_string()
    })?;
    Ok(())
}

/// Compiles a glob (`*.txt`, `news/**`), with an error that quotes it.
pub fn glob(pattern: &str) -> Result<Glob, String> {
    Glob::new(pattern).map_err(|e| format!("invalid glob {pattern:?}: {e}"))
}

/// Checks each glob of a list at `at`.
fn globs(patterns: &[String], at: &KeyPath, problems: &mut Vec<Problem>) {
    for (i, pattern) in patterns.iter().enumerate() {
        if let Err(e) = glob(pattern) {
            problems.push(Problem::new(at.index(i), e));
        }
    }
}

/// Expands `${VAR}` in a path, then a leading `~/`; an empty path is a problem.
pub(super) fn expand_path(path: &mut PathBuf, at: &KeyPath, problems: &mut Vec<Problem>) {
    let mut text = path.to_string_lossy().into_owned();
    if expand(&mut text, at, problems) {
        if text.trim().is_empty() {
            problems.push(Problem::new(
                at.clone(),
                "empty path: give a file or folder",
            ));
        }
        *path = expand_home(&text);
    }
}

/// Replaces each `${VAR}` in `s` with the environment variable's value; false (and a problem
/// at `at`) if one is unset or unclosed, leaving `s` as it was.
pub(super) fn expand(s: &mut String, at: &KeyPath, problems: &mut Vec<Problem>) -> bool {
    match expand_env(s) {
        Ok(expanded) => {
            *s = expanded;
            true
        }
        Err((e, unset)) => {
            problems.push(Problem {
                unset,
                ..Problem::new(at.clone(), e)
            });
            false
        }
    }
}

/// `s` with each `${VAR}` replaced; else why not, and whether it is because a variable is
/// unset (rather than a `${` left unclosed).
fn expand_env(s: &str) -> Result<String, (String, bool)> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| (format!("unclosed ${{ in {s:?}: write ${{NAME}}"), false))?;
        let name = &after[..end];
        let value = std::env::var(name).map_err(|_| {
            let message = format!(
                "environment variable {name} is not set (used as ${{{name}}}): set it, or write the value"
            );
            (message, true)
        })?;
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// `~/x` is `$HOME/x`.
fn expand_home(s: &str) -> PathBuf {
    match (s.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => Path::new(&home).join(rest),
        _ => PathBuf::from(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_may_be_named_once_each() {
        let parse = |yaml: &str| {
            let (config, problems) = super::super::Config::parse_all(yaml, Path::new("n.yaml"));
            let problems: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
            (config, problems)
        };
        let (config, problems) =
            parse("outputs:\n  - type: stdout\n    name: screen\n  - type: stdout\n");
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(config.outputs[0].name.as_deref(), Some("screen"));
        assert_eq!(config.outputs[1].name, None);
        // Names not given may repeat (`#N` tells them apart); names given may not.
        let (_, problems) = parse(
            "outputs:\n  - type: stdout\n    name: screen\n  - type: file\n    path: a.jsonl\n    name: screen\n",
        );
        assert_eq!(
            problems,
            [
                "n.yaml:6:5: outputs[1].name: \"screen\" is already the name of outputs[0]: give each output its own name"
            ]
        );
        let (_, problems) = parse(
            "outputs:\n  - type: stdout\n    name: ' '\n  - type: stdout\n    name: \"a\\nb\"\n",
        );
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0].starts_with("n.yaml:3:5: outputs[0].name: empty"),
            "{problems:?}"
        );
        assert!(
            problems[1].starts_with("n.yaml:5:5: outputs[1].name: a name is one line"),
            "{problems:?}"
        );
        let (_, problems) = parse("outputs:\n  - type: stdout\n    name: [x]\n");
        assert_eq!(problems.len(), 1, "not a string: {problems:?}");
    }

    #[test]
    fn webhook_urls() {
        assert!(crate::outputs::check_webhook_url("http://127.0.0.1:9000/alerts").is_ok());
        assert!(crate::outputs::check_webhook_url("https://example.com").is_ok());
        for bad in [
            "not a url",
            "",
            "ftp://x",
            "http://",
            "http://exa mple.com/",
        ] {
            assert!(crate::outputs::check_webhook_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unset_variables_are_problems_at_their_key() {
        let mut s = "Bearer ${NEWSWATCH_SURELY_UNSET_VAR}".to_string();
        let at = KeyPath::default()
            .key("outputs")
            .index(3)
            .key("headers")
            .key("Authorization");
        let mut problems = Vec::new();
        assert!(!expand(&mut s, &at, &mut problems));
        assert_eq!(problems.len(), 1);
        assert!(problems[0].unset);
        assert!(
            problems[0].to_string().starts_with(
                "outputs[3].headers.Authorization: environment variable NEWSWATCH_SURELY_UNSET_VAR is not set"
            ),
            "{}",
            problems[0]
        );
    }
}
