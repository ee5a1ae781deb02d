//! Outputs as the config describes them, built: each `outputs:` entry becomes a [`Route`] — its
//! output, its filter and the key of its queue (a hash of the whole entry, see `identity`) —
//! or, without building anything, an [`Identity`]: its key and name only.
//! The config is the top layer: it knows the outputs' types, they know nothing of it.

use globset::GlobSetBuilder;

use super::{KeyPath, OutputConfig, OutputKind};
use crate::outputs::{
    CommandOutput, DesktopOutput, Digesting, FileOutput, Filter, Named, NatsOutput, Output,
    OutputError, Route, StdoutOutput, WebhookOutput,
};

/// An output of the config as the state knows it, without building it (no file opened, no
/// connection): what `newswatch outbox` needs to tell queues apart and name them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The key of its queue ([`super::identity::key`]; `#N` after a repeated entry).
    pub key: String,
    /// The key an older newswatch gave its queue: its name then (`#N` after a repeat).
    pub legacy_key: String,
    /// Its `name:`, else its type and target (`#N` after a name an earlier output has).
    pub name: String,
}

/// The config entry that stands for the default output (stdout) when none is configured.
fn default_output() -> OutputConfig {
    OutputConfig {
        kind: OutputKind::Stdout,
        name: None,
        path: None,
        command: None,
        url: None,
        url_as_written: None,
        headers: Default::default(),
        subject: None,
        stream: None,
        credentials: None,
        timeout: None,
        permanent_exit_codes: Vec::new(),
        min_severity: None,
        rules: Vec::new(),
        tags: Vec::new(),
        digest: None,
    }
}

/// What an output is called without a `name:`: its type and target as written, as the output
/// itself says it.
fn own_name(c: &OutputConfig) -> String {
    match c.kind {
        OutputKind::Stdout => StdoutOutput::NAME.to_string(),
        OutputKind::Desktop => DesktopOutput::NAME.to_string(),
        OutputKind::File => {
            FileOutput::name_for(c.path.as_deref().unwrap_or(std::path::Path::new("")))
        }
        OutputKind::Command => CommandOutput::name_for(c.command.as_deref().unwrap_or_default()),
        OutputKind::Webhook => WebhookOutput::name_for(
            c.url.as_deref().unwrap_or_default(),
            c.url_as_written.as_deref(),
        ),
        OutputKind::Nats => NatsOutput::name_for(
            c.url.as_deref().unwrap_or_default(),
            c.url_as_written.as_deref(),
            c.subject.as_deref(),
        ),
    }
}

/// The identities of the outputs `configs` build (with none configured, stdout's), in order.
pub fn identities(configs: &[OutputConfig]) -> Vec<Identity> {
    if configs.is_empty() {
        let stdout = default_output();
        return vec![Identity {
            key: super::identity::key(&stdout),
            legacy_key: own_name(&stdout),
            name: own_name(&stdout),
        }];
    }
    let mut all: Vec<Identity> = Vec::new();
    for (i, c) in configs.iter().enumerate() {
        let own = own_name(c);
        // Before stable keys, the name was the key, with the place in the config after a
        // repeat: kept as it was, to find such queues again.
        let mut legacy_key = own.clone();
        if all.iter().any(|r| r.legacy_key == legacy_key) {
            legacy_key = format!("{legacy_key} #{i}");
        }
        let mut name = c.name.clone().unwrap_or(own);
        if all.iter().any(|r| r.name == name) {
            // Told apart in logs; two given the same `name:` are refused by the config.
            name = format!("{name} #{i}");
        }
        // The same config twice (a config may repeat an entry): queues apart all the same.
        let mut key = super::identity::key(c);
        let repeats = all
            .iter()
            .filter(|r| r.key.split('#').next() == Some(key.as_str()))
            .count();
        if repeats > 0 {
            key = format!("{key}#{}", repeats + 1);
        }
        all.push(Identity {
            key,
            legacy_key,
            name,
        });
    }
    all
}

/// Builds the routes of `configs`; with none configured, alerts go to stdout.
///
/// Each config is checked first with [`OutputConfig::problems`], the checks `newswatch check`
/// runs, so what is left to fail here is only what needs the outside world (a file that cannot
/// be created, no desktop session).
pub fn build(configs: &[OutputConfig]) -> Result<Vec<Route>, OutputError> {
    let all = KeyPath::default().key("outputs");
    if let Some(problem) = super::output_names(configs, &all).into_iter().next() {
        return Err(OutputError::Config(problem.to_string()));
    }
    let default = [default_output()];
    let configs = if configs.is_empty() {
        &default[..]
    } else {
        configs
    };
    let mut routes: Vec<Route> = Vec::new();
    for (i, (c, identity)) in configs.iter().zip(identities(configs)).enumerate() {
        let at = all.index(i);
        if let Some(problem) = c.problems(&at).into_iter().next() {
            return Err(OutputError::Config(problem.to_string()));
        }
        let (output, filter) = build_one(c).map_err(|e| OutputError::At {
            at: at.to_string(),
            source: Box::new(e),
        })?;
        let Identity {
            key,
            legacy_key,
            name,
        } = identity;
        let output = if name == output.name() {
            output
        } else {
            Box::new(Named { name, output })
        };
        let output = match &c.digest {
            Some(digest) => Box::new(Digesting {
                schedule: crate::outputs::Schedule::new(digest.every, digest.at.as_deref())
                    .map_err(OutputError::Config)?,
                output,
            }),
            None => output,
        };
        routes.push(Route {
            key,
            legacy_key,
            output,
            filter,
        });
    }
    Ok(routes)
}

/// Builds the output and filter of one config entry that has no problems.
fn build_one(config: &OutputConfig) -> Result<(Box<dyn Output>, Filter), OutputError> {
    const CHECKED: &str = "checked by OutputConfig::problems";
    let output: Box<dyn Output> = match config.kind {
        OutputKind::Stdout => Box::new(StdoutOutput::new()),
        OutputKind::File => {
            let path = config.path.as_ref().expect(CHECKED);
            Box::new(FileOutput::open(path).map_err(OutputError::File)?)
        }
        OutputKind::Command => Box::new(CommandOutput::new(
            config.command.clone().unwrap_or_default(),
            config.timeout,
            config.permanent_exit_codes.clone(),
        )?),
        OutputKind::Webhook => Box::new(WebhookOutput::new(
            config.url.as_deref().expect(CHECKED),
            config.url_as_written.as_deref(),
            config.headers.clone(),
            config.timeout,
        )?),
        OutputKind::Desktop => Box::new(DesktopOutput::new()?),
        OutputKind::Nats => Box::new(NatsOutput::new(crate::outputs::NatsTarget {
            url: config.url.clone().expect(CHECKED),
            url_as_written: config.url_as_written.clone(),
            subject: config.subject.clone(),
            stream: config.stream.clone(),
            credentials: config.credentials.clone(),
            timeout: config.timeout,
        })?),
    };
    let rules = if config.rules.is_empty() {
        None
    } else {
        let mut set = GlobSetBuilder::new();
        for pattern in &config.rules {
            set.add(super::glob(pattern).expect(CHECKED));
        }
        Some(set.build()?)
    };
    let filter = Filter::new(config.min_severity, rules, config.tags.clone());
    Ok((output, filter))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn configs(yaml: &str) -> Vec<OutputConfig> {
        serde_yaml::from_str(yaml).expect("outputs")
    }

    fn keys_and_names(routes: &[Route]) -> Vec<(&str, &str, &str)> {
        routes
            .iter()
            .map(|r| (r.key.as_str(), r.name(), r.legacy_key.as_str()))
            .collect()
    }

    #[test]
    fn outputs_named_alike_never_share_a_queue() {
        let routes = build(&configs(
            "[{ type: webhook, url: 'http://h/hook?token=a' }, { type: webhook, url: 'http://h/hook?token=b' }]",
        ))
        .unwrap();
        let got = keys_and_names(&routes);
        assert_ne!(got[0].0, got[1].0);
        assert!(got.iter().all(|(k, _, _)| k.starts_with("webhook:")));
        // Names (and the keys of before) as they were: secrets left out, `#N` for a repeat.
        assert_eq!(got[0].1, "webhook http://h/hook…");
        assert_eq!(got[1].1, "webhook http://h/hook… #1");
        assert_eq!(got[0].2, "webhook http://h/hook…");
        assert_eq!(got[1].2, "webhook http://h/hook… #1");

        // The second alone keeps its queue: its key does not depend on its place.
        let alone = build(&configs(
            "[{ type: webhook, url: 'http://h/hook?token=b' }]",
        ))
        .unwrap();
        assert_eq!(alone[0].key, got[1].0);
        assert_eq!(alone[0].name(), "webhook http://h/hook…");

        // The same entry twice: two queues all the same.
        let twice = build(&configs("[{ type: stdout }, { type: stdout }]")).unwrap();
        assert_eq!(twice[1].key, format!("{}#2", twice[0].key));
        assert_eq!(twice[1].name(), "stdout #1");
    }

    #[test]
    fn a_name_names_the_output_and_leaves_its_queue_alone() {
        let plain = build(&configs("[{ type: command, command: [echo, hi] }]")).unwrap();
        assert_eq!(plain[0].name(), "command echo hi");
        let named = build(&configs(
            "[{ type: command, command: [echo, hi], name: greeter }, { type: stdout, name: 'command echo hi' }, { type: stdout }]",
        ))
        .unwrap();
        assert_eq!(named[0].name(), "greeter");
        assert_eq!(named[0].key, plain[0].key, "renamed, same queue");
        assert_eq!(named[0].legacy_key, "command echo hi");
        assert_eq!(named[1].name(), "command echo hi");
        // The default stdout has the key of a bare `type: stdout`.
        let default = build(&[]).unwrap();
        let bare = build(&configs("[{ type: stdout }]")).unwrap();
        assert_eq!(default[0].key, bare[0].key);
        assert_eq!(named[2].key, format!("{}#2", bare[0].key), "as named[1]");
        assert_eq!(default[0].name(), "stdout");
        assert_eq!(default[0].legacy_key, "stdout");
        // A name that another output shows without giving it: told apart.
        let shadow = build(&configs(
            "[{ type: stdout, name: desktop }, { type: stdout }, { type: stdout, name: stdout }]",
        ))
        .unwrap();
        let names: Vec<&str> = shadow.iter().map(Route::name).collect();
        assert_eq!(names, ["desktop", "stdout", "stdout #2"]);
    }

    #[test]
    fn two_outputs_given_one_name_are_refused() {
        let err = build(&configs(
            "[{ type: stdout, name: mine }, { type: command, command: [echo], name: mine }]",
        ))
        .err()
        .expect("refused")
        .to_string();
        assert_eq!(
            err,
            "outputs[1].name: \"mine\" is already the name of outputs[0]: give each output its own name"
        );
    }
}
