//! The YAML configuration (`newswatch.yaml`), as DESIGN.md sketches it.
//!
//! Every key is optional; unknown keys and bad values are errors naming the file, line and
//! column. Durations read like `250ms`, `10m`, `2h`, `7d`; sizes like `16MiB`, `512KB`, `1000`.
//! `${VAR}` in path, URL, header and command strings reads the environment.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::Error;
use crate::alert::Severity;
use crate::rules::Limits;

/// The whole configuration file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub watch: Vec<WatchConfig>,
    pub rules: Option<PathBuf>,
    pub state: Option<PathBuf>,
    pub startup: Startup,
    pub limits: LimitsConfig,
    pub throttle: ThrottleConfig,
    pub retry: RetryConfig,
    pub outputs: Vec<OutputConfig>,
}

/// A watched folder.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchConfig {
    pub path: PathBuf,
    #[serde(default = "yes")]
    pub recursive: bool,
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
}

fn yes() -> bool {
    true
}

/// What the daemon does with files already present when it starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Startup {
    /// Evaluate everything not yet seen.
    #[default]
    Process,
    /// Mark what is there as seen, without alerts.
    Skip,
}

/// `limits:` — resource limits for files and rules.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    #[serde(deserialize_with = "size")]
    pub max_file_size: u64,
    pub rule_max_operations: u64,
    #[serde(deserialize_with = "duration")]
    pub rule_timeout: Duration,
    #[serde(deserialize_with = "size")]
    pub rule_max_string_size: u64,
    pub rule_max_array_size: usize,
    pub rule_max_map_size: usize,
    pub rule_max_call_depth: usize,
    pub rule_max_alerts: usize,
}

impl Default for LimitsConfig {
    fn default() -> LimitsConfig {
        let rules = Limits::default();
        LimitsConfig {
            max_file_size: 16 << 20,
            rule_max_operations: rules.max_operations,
            rule_timeout: rules.timeout,
            rule_max_string_size: rules.max_string_size as u64,
            rule_max_array_size: rules.max_array_size,
            rule_max_map_size: rules.max_map_size,
            rule_max_call_depth: rules.max_call_depth,
            rule_max_alerts: rules.max_alerts_per_rule,
        }
    }
}

impl LimitsConfig {
    /// The limits rules run under.
    pub fn rules(&self) -> Limits {
        Limits {
            max_operations: self.rule_max_operations,
            timeout: self.rule_timeout,
            max_string_size: self.rule_max_string_size as usize,
            max_array_size: self.rule_max_array_size,
            max_map_size: self.rule_max_map_size,
            max_call_depth: self.rule_max_call_depth,
            max_alerts_per_rule: self.rule_max_alerts,
            ..Limits::default()
        }
    }
}

/// `throttle:` — at most one delivered alert per rule per window; the others are recorded as
/// suppressed and counted.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ThrottleConfig {
    #[serde(deserialize_with = "duration")]
    pub per_rule: Duration,
    /// Throttle per rule *and* value of this alert field (e.g. `chip`), not per rule only.
    pub key: Option<String>,
}

impl ThrottleConfig {
    pub fn throttle(&self) -> crate::state::Throttle {
        crate::state::Throttle {
            window: self.per_rule,
            field: self.key.clone(),
        }
    }
}

/// `retry:` — how failed deliveries are retried.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryConfig {
    /// Wait after the first failure, doubled after each further one.
    #[serde(deserialize_with = "duration")]
    pub initial: Duration,
    /// The longest wait between attempts.
    #[serde(deserialize_with = "duration")]
    pub max: Duration,
    /// Give a delivery up once it has failed for this long.
    #[serde(deserialize_with = "duration")]
    pub give_up_after: Duration,
}

impl Default for RetryConfig {
    fn default() -> RetryConfig {
        let p = crate::outbox::RetryPolicy::default();
        RetryConfig {
            initial: p.initial,
            max: p.max,
            give_up_after: p.give_up_after,
        }
    }
}

impl RetryConfig {
    pub fn policy(&self) -> crate::outbox::RetryPolicy {
        crate::outbox::RetryPolicy {
            initial: self.initial,
            max: self.max,
            give_up_after: self.give_up_after,
        }
    }
}

/// The kinds of output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputKind {
    Stdout,
    File,
    Command,
    Webhook,
    Desktop,
}

/// One entry of `outputs:`. Which fields apply depends on `type`; [`Config::parse`] checks that
/// each output has what its type needs and nothing it does not use.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputConfig {
    #[serde(rename = "type")]
    pub kind: OutputKind,
    /// `file`: the JSON Lines file alerts are appended to.
    pub path: Option<PathBuf>,
    /// `command`: the argv to run, never through a shell.
    pub command: Option<Vec<String>>,
    /// `webhook`: where alerts are POSTed.
    pub url: Option<String>,
    /// `webhook`: extra HTTP headers.
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    /// `command`, `webhook`: how long one delivery may take.
    #[serde(default, deserialize_with = "opt_duration")]
    pub timeout: Option<Duration>,
    /// Only alerts at least this severe.
    #[serde(default)]
    pub min_severity: Option<Severity>,
    /// Only alerts of rules whose names match one of these globs.
    #[serde(default)]
    pub rules: Vec<String>,
    /// Only alerts carrying one of these tags.
    #[serde(default)]
    pub tags: Vec<String>,
}

impl OutputConfig {
    fn validate(&self) -> Result<(), String> {
        let kind = self.kind;
        let needs = |present: bool, key: &str| {
            if present {
                Ok(())
            } else {
                Err(format!("an output of type {kind:?} needs `{key}`").to_lowercase())
            }
        };
        let unused = |present: bool, key: &str| {
            if present {
                Err(format!("`{key}` does not apply to an output of type {kind:?}").to_lowercase())
            } else {
                Ok(())
            }
        };
        let is = |k: OutputKind| kind == k;
        needs(!is(OutputKind::File) || self.path.is_some(), "path")?;
        needs(
            !is(OutputKind::Command) || self.command.as_ref().is_some_and(|c| !c.is_empty()),
            "command",
        )?;
        needs(!is(OutputKind::Webhook) || self.url.is_some(), "url")?;
        unused(!is(OutputKind::File) && self.path.is_some(), "path")?;
        unused(
            !is(OutputKind::Command) && self.command.is_some(),
            "command",
        )?;
        unused(!is(OutputKind::Webhook) && self.url.is_some(), "url")?;
        unused(
            !is(OutputKind::Webhook) && !self.headers.is_empty(),
            "headers",
        )?;
        unused(
            !is(OutputKind::Webhook) && !is(OutputKind::Command) && self.timeout.is_some(),
            "timeout",
        )
    }
}

impl Config {
    /// Reads and validates the config file at `path`.
    pub fn load(path: &Path) -> Result<Config, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// Parses config text; `path` is only used in error messages.
    pub fn parse(text: &str, path: &Path) -> Result<Config, Error> {
        let error = |line, column, message| Error::Config {
            path: path.to_path_buf(),
            line,
            column,
            message,
        };
        if text.trim().is_empty() {
            return Ok(Config::default());
        }
        let mut config: Config = serde_yaml::from_str(text).map_err(|e| {
            let (line, column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
            error(line, column, e.to_string())
        })?;
        for (i, out) in config.outputs.iter().enumerate() {
            out.validate()
                .map_err(|e| error(1, 1, format!("outputs[{i}]: {e}")))?;
        }
        config
            .expand_env()
            .map_err(|message| error(1, 1, message))?;
        Ok(config)
    }

    fn expand_env(&mut self) -> Result<(), String> {
        let path = |p: &mut PathBuf, key: &str| -> Result<(), String> {
            let s = expand(&p.to_string_lossy()).map_err(|e| format!("{key}: {e}"))?;
            *p = expand_home(&s);
            Ok(())
        };
        for (i, w) in self.watch.iter_mut().enumerate() {
            path(&mut w.path, &format!("watch[{i}].path"))?;
        }
        if let Some(p) = &mut self.rules {
            path(p, "rules")?;
        }
        if let Some(p) = &mut self.state {
            path(p, "state")?;
        }
        for (i, out) in self.outputs.iter_mut().enumerate() {
            let key = format!("outputs[{i}]");
            if let Some(p) = &mut out.path {
                path(p, &format!("{key}.path"))?;
            }
            for arg in out.command.iter_mut().flatten() {
                *arg = expand(arg).map_err(|e| format!("{key}.command: {e}"))?;
            }
            if let Some(url) = &mut out.url {
                *url = expand(url).map_err(|e| format!("{key}.url: {e}"))?;
            }
            for (name, value) in out.headers.iter_mut() {
                *value = expand(value).map_err(|e| format!("{key}.headers.{name}: {e}"))?;
            }
        }
        Ok(())
    }
}

/// Replaces each `${VAR}` in `s` with the environment variable's value.
fn expand(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("unclosed ${{ in {s:?}"))?;
        let name = &after[..end];
        let value = std::env::var(name)
            .map_err(|_| format!("environment variable {name} is not set (used as ${{{name}}})"))?;
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

/// Splits `12.5 unit` into the number and the unit.
fn quantity<'a>(s: &'a str, what: &str, examples: &str) -> Result<(f64, &'a str), String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n = num
        .parse()
        .map_err(|_| format!("invalid {what} {s:?}: expected e.g. {examples}"))?;
    Ok((n, unit.trim()))
}

/// Parses `250ms`, `10s`, `5m`, `2h`, `7d` (a bare number is seconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let (n, unit) = quantity(s, "duration", "250ms, 10s, 5m, 2h, 7d")?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "" | "s" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        "d" => n * 86400.0,
        other => {
            return Err(format!(
                "invalid duration unit {other:?} in {s:?}: use ms, s, m, h or d"
            ));
        }
    };
    Ok(Duration::from_secs_f64(secs))
}

/// Parses `16MiB`, `512KB`, `1GiB`, `1000` (bytes).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let (n, unit) = quantity(s, "size", "16MiB, 512KB, 1000")?;
    let mult: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1000,
        "kib" | "k" => 1 << 10,
        "mb" => 1000 * 1000,
        "mib" | "m" => 1 << 20,
        "gb" => 1000 * 1000 * 1000,
        "gib" | "g" => 1 << 30,
        other => {
            return Err(format!(
                "invalid size unit {other:?} in {s:?}: use B, KiB, MiB, GiB, KB, MB or GB"
            ));
        }
    };
    Ok((n * mult as f64) as u64)
}

/// A YAML scalar that may be a number or a string.
#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar {
    Int(u64),
    Float(f64),
    Text(String),
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    match Scalar::deserialize(d)? {
        Scalar::Int(n) => Ok(Duration::from_secs(n)),
        Scalar::Float(f) if f >= 0.0 => Ok(Duration::from_secs_f64(f)),
        Scalar::Float(f) => Err(serde::de::Error::custom(format!("invalid duration {f}"))),
        Scalar::Text(s) => parse_duration(&s).map_err(serde::de::Error::custom),
    }
}

fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    duration(d).map(Some)
}

fn size<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    match Scalar::deserialize(d)? {
        Scalar::Int(n) => Ok(n),
        Scalar::Float(f) => Err(serde::de::Error::custom(format!(
            "invalid size {f}: use whole bytes or a unit"
        ))),
        Scalar::Text(s) => parse_size(&s).map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_design_sketch() {
        let yaml = r#"
watch:
  - path: /tmp/news
    include: ["*.txt"]
rules: ./rules
startup: skip
limits: { max_file_size: 16MiB, rule_max_operations: 1000000, rule_timeout: 250ms }
throttle: { per_rule: 10m }
outputs:
  - type: stdout
  - type: file
    path: alerts.jsonl
  - type: command
    command: ["notify-send", "newswatch"]
    min_severity: high
  - type: webhook
    url: http://127.0.0.1:9000/alerts
"#;
        let c = Config::parse(yaml, Path::new("n.yaml")).unwrap();
        assert_eq!(c.limits.max_file_size, 16 << 20);
        assert_eq!(c.limits.rule_timeout, Duration::from_millis(250));
        assert_eq!(c.throttle.per_rule, Duration::from_secs(600));
        assert_eq!(c.startup, Startup::Skip);
        assert_eq!(c.outputs.len(), 4);
    }

    #[test]
    fn unknown_keys_name_line_and_column() {
        let err = Config::parse(
            "rules: x\nlimits:\n  max_fil_size: 3\n",
            Path::new("n.yaml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("n.yaml:3:3: "), "{err}");
        assert!(err.contains("max_fil_size"), "{err}");
    }

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_size("512KB"), Ok(512_000));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert!(parse_size("12 parsecs").is_err());
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
        assert!(parse_duration("soon").is_err());
    }
}
