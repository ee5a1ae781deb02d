//! The YAML configuration (`newswatch.yaml`), as DESIGN.md sketches it.
//!
//! Every key is optional; unknown keys and bad values are errors naming the key, file, line
//! and column. Durations read like `250ms`, `10m`, `2h`, `7d`; sizes like `16MiB`, `512KB`,
//! `1000`. `${VAR}` in path, URL, header and command strings reads the environment.
//!
//! Reading a config is one path for every command: each top-level section (and each entry of
//! `watch:` and `outputs:`) is read on its own so that one bad section does not hide the next,
//! then each section checks what its types cannot say (a webhook URL, a glob, an unset `${VAR}`).
//! `check` lists every problem; the other commands refuse to start on the first. Nothing here
//! touches the file system beyond reading the config, so checking a config is harmless.

mod feeds;
mod http;
mod identity;
mod nats;
mod quantity;
mod routes;
mod validate;
mod yaml;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::Error;
use newswatch_engine::alert::Severity;
use newswatch_engine::rules::{LimitKind, LimitValue, Limits, RulesetOptions};
use quantity::{duration, opt_duration};

pub use feeds::{EVERY_MAX, EVERY_MIN, FeedDefaults, FeedEntry, FirstPoll, check_feed_url};
pub use http::HttpConfig;
pub use nats::{NatsConfig, check_stream_name, check_subject};
pub use quantity::parse_duration;
pub use routes::{Identity, build as build_routes, identities as output_identities};
use validate::Section;
pub use validate::{glob, output_names};
pub use yaml::KeyPath;

/// The whole configuration file.
#[derive(Clone, Debug, Default)]
pub struct Config {
    pub watch: Vec<WatchConfig>,
    pub rules: Option<PathBuf>,
    pub state: Option<PathBuf>,
    pub startup: Startup,
    pub limits: LimitsConfig,
    pub throttle: ThrottleConfig,
    pub retry: RetryConfig,
    pub outputs: Vec<OutputConfig>,
    /// Where the config reads an environment variable that is unset, the value left as
    /// written. Only the commands that use those values refuse to run ([`Config::require_env`]):
    /// `alerts`, `status`, `outbox`… work without the service's secrets.
    pub unset: Vec<UnsetVariable>,
    /// The metrics and health endpoint; off when `None`.
    pub http: Option<HttpConfig>,
    /// Rules switched off, by name or glob (`chips/*`): compiled and listed, never evaluated.
    pub disabled: Disabled,
    /// How copies of one story are grouped.
    pub stories: StoriesConfig,
    /// Feeds to poll (`url:`) and OPML files listing them (`opml:`).
    pub feeds: Vec<FeedEntry>,
    /// What each feed uses unless its entry says otherwise.
    pub feed_defaults: FeedDefaults,
    /// The fleet's NATS JetStream server, streams and consumer (`publish`, `consume`).
    pub nats: Option<NatsConfig>,
}

/// `stories:` — copies of one story within `window` give one delivered alert per rule (the
/// later ones are recorded as duplicates); `window: 0s` turns grouping off.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoriesConfig {
    #[serde(deserialize_with = "duration")]
    pub window: Duration,
}

impl Default for StoriesConfig {
    fn default() -> StoriesConfig {
        StoriesConfig {
            window: crate::state::DEFAULT_STORY_WINDOW,
        }
    }
}

/// An output's `digest:` — one message per period with the period's alerts, instead of one per
/// alert: `{ every: 1d, at: "08:00" }`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigestConfig {
    /// The period: a whole number of days, or a time that divides a day (`6h`, `15m`).
    #[serde(deserialize_with = "duration")]
    pub every: Duration,
    /// Local time of day (`HH:MM`, or `HH:MM:SS`) periods start at; midnight when left out.
    #[serde(default)]
    pub at: Option<String>,
}

/// `disabled:` — globs over rule names.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(transparent)]
pub struct Disabled(pub Vec<String>);

/// A `${VAR}` in the config whose variable is unset, and where.
#[derive(Clone, Debug)]
pub struct UnsetVariable {
    pub path: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl UnsetVariable {
    /// The problem, as `check` and the commands that need the value report it.
    pub fn error(&self) -> Error {
        Error::Config {
            path: self.path.clone(),
            line: self.line,
            column: self.column,
            message: self.message.clone(),
        }
    }
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

/// `limits:` — the size limit of files, and the budgets of rules: one key per entry of the
/// engine's [`Limits::TABLE`], read by the kind of quantity it is.
#[derive(Clone, Debug, PartialEq)]
pub struct LimitsConfig {
    /// Files larger than this are skipped.
    pub max_file_size: u64,
    /// What rules run under.
    pub rules: Limits,
}

impl Default for LimitsConfig {
    fn default() -> LimitsConfig {
        LimitsConfig {
            max_file_size: 16 << 20,
            rules: Limits::default(),
        }
    }
}

impl<'de> Deserialize<'de> for LimitsConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<LimitsConfig, D::Error> {
        d.deserialize_map(LimitsVisitor)
    }
}

/// Reads `limits:` key by key, so that a bad value is reported at the value itself.
struct LimitsVisitor;

/// A key of `limits:`, refused where it is written when it is none of [`LIMIT_KEYS`].
struct LimitKey(&'static str);

/// `max_file_size` and the engine's limits, as `limits:` accepts them.
static LIMIT_KEYS: std::sync::LazyLock<Vec<&'static str>> = std::sync::LazyLock::new(|| {
    std::iter::once("max_file_size")
        .chain(Limits::TABLE.iter().map(|s| s.key))
        .collect()
});

impl<'de> Deserialize<'de> for LimitKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<LimitKey, D::Error> {
        // Refused inside the key's own visitor, so the parser reports the key's position.
        struct KeyVisitor;
        impl serde::de::Visitor<'_> for KeyVisitor {
            type Value = LimitKey;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("the name of a limit")
            }
            fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<LimitKey, E> {
                match LIMIT_KEYS.iter().find(|k| **k == key) {
                    Some(known) => Ok(LimitKey(known)),
                    None => Err(E::unknown_field(key, LIMIT_KEYS.as_slice())),
                }
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

impl<'de> serde::de::Visitor<'de> for LimitsVisitor {
    type Value = LimitsConfig;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a mapping of limits (max_file_size, rule_timeout, …)")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<LimitsConfig, A::Error> {
        use serde::de::Error as _;
        let mut config = LimitsConfig::default();
        while let Some(LimitKey(key)) = map.next_key()? {
            if key == "max_file_size" {
                config.max_file_size = map.next_value::<quantity::Size>()?.0;
                continue;
            }
            let spec = Limits::spec(key).expect("LimitKey reads only known keys");
            let value = match spec.kind {
                LimitKind::Time => LimitValue::Time(map.next_value::<quantity::Time>()?.0),
                LimitKind::Bytes => LimitValue::Number(map.next_value::<quantity::Size>()?.0),
                _ => LimitValue::Number(map.next_value::<u64>()?),
            };
            if !spec.set(&mut config.rules, value) {
                return Err(A::Error::custom(format!("{key}: {value} is too large")));
            }
        }
        Ok(config)
    }
}

/// The environment variable that turns the rules prefilter off (`off`, `0`, `false` or `no`):
/// every rule then runs on every article, the reference to compare against when a result
/// looks wrong.
pub const PREFILTER_ENV: &str = "NEWSWATCH_PREFILTER";

/// Whether `value` of [`PREFILTER_ENV`] leaves the prefilter on: anything but `off`, `0`,
/// `false`, `no`.
fn prefilter_on(value: Option<&str>) -> bool {
    value.is_none_or(|v| {
        !matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "off" | "0" | "false" | "no"
        )
    })
}

impl LimitsConfig {
    /// How rule sets are built: these limits, and the prefilter unless [`PREFILTER_ENV`] turns
    /// it off.
    pub fn ruleset_options(&self) -> RulesetOptions {
        RulesetOptions::from(self.rules())
            .prefilter(prefilter_on(std::env::var(PREFILTER_ENV).ok().as_deref()))
    }

    /// The limits rules run under.
    pub fn rules(&self) -> Limits {
        self.rules.clone()
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
    /// Alerts published to NATS JetStream (`SUBJECT.RULE`, `Nats-Msg-Id` = the alert id).
    Nats,
}

/// One entry of `outputs:`. Which fields apply depends on `type`; [`OutputConfig::problems`]
/// checks that each output has what its type needs and nothing it does not use.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputConfig {
    #[serde(rename = "type")]
    pub kind: OutputKind,
    /// What logs and `newswatch alerts` call the output; without it, its type and target as
    /// written (secrets unexpanded). Only a name: the queue is keyed by the whole config.
    pub name: Option<String>,
    /// `file`: the JSON Lines file alerts are appended to.
    pub path: Option<PathBuf>,
    /// `command`: the argv to run, never through a shell.
    pub command: Option<Vec<String>>,
    /// `webhook`: where alerts are POSTed.
    pub url: Option<String>,
    /// `webhook`: the URL as written, when it reads the environment (`${HOOK_URL}`): it names
    /// the output in logs and in the state, so that a secret in the variable stays out of
    /// them. (The queue is keyed by the expanded URL: a rotated secret is a new output.)
    #[serde(skip)]
    pub url_as_written: Option<String>,
    /// `webhook`: extra HTTP headers.
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    /// `nats`: alerts are published to `SUBJECT.RULE` (default `newswatch.alerts`).
    #[serde(default)]
    pub subject: Option<String>,
    /// `nats`: the stream created for `SUBJECT.>` when none holds it (default
    /// `NEWSWATCH_ALERTS`).
    #[serde(default)]
    pub stream: Option<String>,
    /// `nats`: a NATS credentials file (`.creds`).
    #[serde(default)]
    pub credentials: Option<PathBuf>,
    /// `command`, `webhook`, `nats`: how long one delivery may take.
    #[serde(default, deserialize_with = "opt_duration")]
    pub timeout: Option<Duration>,
    /// `command`: exit codes meaning the program will never take this alert: its delivery is
    /// `failed` at once instead of retried. Not part of the output's identity (its queue).
    #[serde(default)]
    pub permanent_exit_codes: Vec<i32>,
    /// Only alerts at least this severe.
    #[serde(default)]
    pub min_severity: Option<Severity>,
    /// Only alerts of rules whose names match one of these globs.
    #[serde(default)]
    pub rules: Vec<String>,
    /// Only alerts carrying one of these tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Deliver one digest per period instead of each alert. Not part of the output's identity:
    /// switching it on or off keeps the output's queue.
    #[serde(default)]
    pub digest: Option<DigestConfig>,
}

impl Config {
    /// The top-level keys, in the order the docs list them.
    const KEYS: &[&str] = &[
        "watch",
        "rules",
        "state",
        "startup",
        "limits",
        "throttle",
        "retry",
        "outputs",
        "http",
        "disabled",
        "feeds",
        "feed_defaults",
        "stories",
        "nats",
    ];

    /// Reads and validates the config file at `path`. With several problems, the error is the
    /// first one and says how many more `newswatch check` would list.
    pub fn load(path: &Path) -> Result<Config, Error> {
        let (config, problems) = Config::load_all(path);
        first_problem(config, problems)
    }

    /// How rule sets are built: the limits, the prefilter (see [`LimitsConfig::ruleset_options`])
    /// and the rules switched off.
    pub fn ruleset_options(&self) -> RulesetOptions {
        self.limits
            .ruleset_options()
            .disabled(self.disabled.0.iter().cloned())
    }

    /// `Err` (the first, saying how many more) if the config reads an unset environment
    /// variable: for the commands that deliver (`watch`, `scan --deliver`, `fetch`).
    pub fn require_env(&self) -> Result<(), Error> {
        let problems = self.unset.iter().map(UnsetVariable::error).collect();
        first_problem((), problems)
    }

    /// Parses config text; `path` is only used in error messages. Errors as [`Config::load`].
    #[cfg(test)]
    pub fn parse(text: &str, path: &Path) -> Result<Config, Error> {
        let (config, problems) = Config::parse_all(text, path);
        first_problem(config, problems)
    }

    /// Reads the config file at `path`: what could be read of it, and every problem found, in
    /// the order of the file (empty when the config is good).
    pub fn load_all(path: &Path) -> (Config, Vec<Error>) {
        match std::fs::read_to_string(path) {
            Ok(text) => Config::parse_all(&text, path),
            Err(source) => (
                Config::default(),
                vec![Error::ConfigUnreadable {
                    path: path.to_path_buf(),
                    source,
                }],
            ),
        }
    }

    /// [`Config::load_all`] on text already read.
    pub fn parse_all(text: &str, path: &Path) -> (Config, Vec<Error>) {
        let (mut config, mut found, mut unset) = Config::read(text);
        unset.sort_by_key(|(at, _)| *at);
        config.unset = unset
            .into_iter()
            .map(|((line, column), message)| UnsetVariable {
                path: path.to_path_buf(),
                line,
                column,
                message,
            })
            .collect();
        found.sort_by_key(|(at, _)| *at);
        let errors = found
            .into_iter()
            .map(|((line, column), message)| Error::Config {
                path: path.to_path_buf(),
                line,
                column,
                message,
            })
            .collect();
        (config, errors)
    }

    /// Reads and validates each section of `text` on its own: the config and the problems, each
    /// with its position.
    fn read(text: &str) -> (Config, Vec<Positioned>, Vec<Positioned>) {
        let mut config = Config::default();
        let top: serde_yaml::Mapping = match serde_yaml::from_str(text) {
            Ok(serde_yaml::Value::Mapping(m)) => m,
            Ok(serde_yaml::Value::Null) => return (config, Vec::new(), Vec::new()),
            Ok(_) => {
                let message = "the config must be a mapping of keys (watch:, rules:, outputs:, …)";
                return (config, vec![((1, 1), message.to_string())], Vec::new());
            }
            Err(e) => return (config, vec![serde_problem(&e)], Vec::new()),
        };
        let mut sections = Sections {
            text,
            problems: Vec::new(),
            unset: Vec::new(),
        };
        for (key, value) in &top {
            let Some(name) = key.as_str() else {
                let message = format!("the key {key:?} is not text");
                sections.problems.push(((1, 1), message));
                continue;
            };
            let at = KeyPath::default().key(name);
            match name {
                "watch" => config.watch = sections.list(&at, value),
                "outputs" => {
                    config.outputs = sections.list(&at, value);
                    // Across entries, once each reads: their indices are then the config's.
                    if value.as_sequence().map(Vec::len) == Some(config.outputs.len()) {
                        sections.report(validate::output_names(&config.outputs, &at));
                    }
                }
                "rules" => sections.read(&at, &mut config.rules),
                "state" => sections.read(&at, &mut config.state),
                "startup" => sections.read(&at, &mut config.startup),
                "limits" => sections.read(&at, &mut config.limits),
                "throttle" => sections.read(&at, &mut config.throttle),
                "retry" => sections.read(&at, &mut config.retry),
                "http" => sections.read(&at, &mut config.http),
                "disabled" => sections.read(&at, &mut config.disabled),
                "stories" => sections.read(&at, &mut config.stories),
                "feeds" => config.feeds = sections.list(&at, value),
                "feed_defaults" => sections.read(&at, &mut config.feed_defaults),
                "nats" => sections.read(&at, &mut config.nats),
                _ => {
                    let message = format!(
                        "{at}: unknown key: expected one of {}",
                        Config::KEYS.join(", ")
                    );
                    sections.problems.push((yaml::locate(text, &at), message));
                }
            }
        }
        (config, sections.problems, sections.unset)
    }
}

/// A problem's position (1-based line and column) and message.
type Positioned = ((usize, usize), String);

/// The first of `problems`, saying how many more there are; else the config.
fn first_problem<T>(config: T, problems: Vec<Error>) -> Result<T, Error> {
    let more = problems.len().saturating_sub(1);
    match problems.into_iter().next() {
        None => Ok(config),
        Some(Error::Config {
            path,
            line,
            column,
            message,
        }) if more > 0 => Err(Error::Config {
            message: format!(
                "{message} (and {more} more problem(s): `newswatch check --config {}` lists them all)",
                path.display()
            ),
            path,
            line,
            column,
        }),
        Some(e) => Err(e),
    }
}

/// A serde_yaml error where the parser found it.
fn serde_problem(e: &serde_yaml::Error) -> Positioned {
    let at = e.location().map_or((1, 1), |l| (l.line(), l.column()));
    (at, yaml::message(e))
}

/// Reads sections of one config text, collecting their problems.
struct Sections<'t> {
    text: &'t str,
    problems: Vec<Positioned>,
    /// Unset environment variables, kept apart from the problems.
    unset: Vec<Positioned>,
}

impl Sections<'_> {
    /// Reads the node at `at` and validates it ([`Section::validate`]); `None` if it cannot be
    /// read as a `T`.
    fn take<T: DeserializeOwned + Section>(&mut self, at: &KeyPath) -> Option<T> {
        match yaml::section::<T>(self.text, at) {
            Ok(mut value) => {
                let problems = value.validate(at);
                self.report(problems);
                Some(value)
            }
            Err(e) => {
                self.problems.push(serde_problem(&e));
                None
            }
        }
    }

    /// Adds `problems`, each where its key is in the text.
    fn report(&mut self, problems: Vec<validate::Problem>) {
        for p in problems {
            let position = yaml::locate(self.text, &p.key);
            let to = if p.unset {
                &mut self.unset
            } else {
                &mut self.problems
            };
            to.push((position, p.to_string()));
        }
    }

    /// [`Sections::take`] into `into`; a problem leaves `into` as it was.
    fn read<T: DeserializeOwned + Section>(&mut self, at: &KeyPath, into: &mut T) {
        if let Some(value) = self.take(at) {
            *into = value;
        }
    }

    /// Reads the list at `at` entry by entry, so that each bad entry is reported.
    fn list<T: DeserializeOwned + Section>(
        &mut self,
        at: &KeyPath,
        value: &serde_yaml::Value,
    ) -> Vec<T> {
        match value.as_sequence() {
            Some(entries) => (0..entries.len())
                .filter_map(|i| self.take(&at.index(i)))
                .collect(),
            // Not a list: reading it as one says so.
            None => self.take::<Vec<T>>(at).unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_limit_of_the_engine_is_a_key_with_its_check() {
        let yaml = "limits:\n  rule_max_expr_depth: 64\n  rule_timeout: 2s\n  rule_max_string_size: 64MiB\n";
        let c = Config::parse(yaml, Path::new("n.yaml")).unwrap();
        assert_eq!(c.limits.rules.max_expr_depth, 64);
        assert_eq!(c.limits.rules.timeout, Duration::from_secs(2));
        assert_eq!(c.limits.rules.max_string_size, 64 << 20);
        for spec in Limits::TABLE {
            let zero = if spec.kind == LimitKind::Time {
                "0s"
            } else {
                "0"
            };
            let yaml = format!("limits:\n  {}: {zero}\n", spec.key);
            let (_, problems) = Config::parse_all(&yaml, Path::new("n.yaml"));
            let shown: Vec<_> = problems.iter().map(|p| p.to_string()).collect();
            assert_eq!(shown.len(), 1, "{shown:?}");
            assert!(
                shown[0].starts_with(&format!(
                    "n.yaml:2:3: limits.{}: must be more than 0",
                    spec.key
                )),
                "{shown:?}"
            );
        }
    }

    #[test]
    fn the_environment_turns_the_prefilter_off() {
        for off in ["off", "OFF", " 0", "false", "no"] {
            assert!(!prefilter_on(Some(off)), "{off}");
        }
        for on in [None, Some("on"), Some("1"), Some("")] {
            assert!(prefilter_on(on), "{on:?}");
        }
    }

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
        assert_eq!(c.limits.rules.timeout, Duration::from_millis(250));
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
}
