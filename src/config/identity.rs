//! Output identity: the key an output's queue has in the state, kept apart from the name it is
//! shown by.
//!
//! A name is for people and leaves secrets out, so two outputs may share one: webhooks to
//! `http://host/hook?token=a` and `?token=b` are both `webhook http://host/hook…`. A queue must
//! never be shared — removing the first output would hand its pending alerts to the second
//! endpoint — so the key is a hash of the output's whole configuration after `${VAR}`
//! expansion: where it delivers (path, argv, URL with its query, headers), how (timeout) and
//! what (filters). A changed token is another output, with a queue of its own; the old queue
//! waits for its output to come back. The hash is the only thing the state keeps that is
//! derived from secrets. `name:` is not part of it: renaming an output keeps its queue.

use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{OutputConfig, OutputKind};

/// The version of [`Canonical`]: every key changes with it, so it changes only with a
/// migration of the queues.
const FORM: u32 = 1;

/// What an output's key is the hash of. Field order is declaration order (not a map's), so the
/// serialization is the same from build to build.
#[derive(Serialize)]
struct Canonical<'a> {
    form: u32,
    #[serde(rename = "type")]
    kind: &'static str,
    path: Option<String>,
    command: Option<&'a [String]>,
    url: Option<&'a str>,
    /// Names lowercased (HTTP reads them so), sorted.
    headers: Vec<(String, &'a str)>,
    /// As configured: the default is not written in, so that a new default keeps the queues.
    timeout_ns: Option<u128>,
    min_severity: Option<&'static str>,
    /// Sets: sorted, once each.
    rules: Vec<&'a str>,
    tags: Vec<&'a str>,
    /// `nats` only: left out when absent, so that the keys of the other types stay as they were.
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    credentials: Option<String>,
}

/// The stable key of the output configured by `config` (expanded, as
/// [`crate::config::Config::load`] gives it): its type, `:`, and the first 128 bits (hex) of
/// SHA-256 over its canonical form, e.g. `webhook:3f0c…` (32 hex digits).
pub fn key(config: &OutputConfig) -> String {
    let hash = format!("{:x}", Sha256::digest(canonical(config)));
    format!("{}:{}", kind_name(config.kind), &hash[..32])
}

/// The canonical form of `config`: [`Canonical`] as JSON.
fn canonical(config: &OutputConfig) -> Vec<u8> {
    let mut headers: Vec<(String, &str)> = config
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.as_str()))
        .collect();
    headers.sort();
    let canonical = Canonical {
        form: FORM,
        kind: kind_name(config.kind),
        path: config.path.as_deref().map(path_text),
        command: config.command.as_deref(),
        url: config.url.as_deref(),
        headers,
        timeout_ns: config.timeout.map(|t| t.as_nanos()),
        min_severity: config.min_severity.map(|s| s.as_str()),
        rules: set(&config.rules),
        tags: set(&config.tags),
        subject: config.subject.as_deref(),
        stream: config.stream.as_deref(),
        credentials: config.credentials.as_deref().map(path_text),
    };
    serde_json::to_vec(&canonical).expect("plain data serializes")
}

/// A list that is a set (globs, tags), sorted and once each.
fn set(items: &[String]) -> Vec<&str> {
    let mut items: Vec<&str> = items.iter().map(String::as_str).collect();
    items.sort_unstable();
    items.dedup();
    items
}

/// The type as written in the config.
fn kind_name(kind: OutputKind) -> &'static str {
    match kind {
        OutputKind::Stdout => "stdout",
        OutputKind::File => "file",
        OutputKind::Command => "command",
        OutputKind::Webhook => "webhook",
        OutputKind::Desktop => "desktop",
        OutputKind::Nats => "nats",
    }
}

/// A path as text; one that is not UTF-8 as hex of its bytes, so that two such paths never
/// read alike.
fn path_text(path: &Path) -> String {
    let bytes = path.as_os_str().as_encoded_bytes();
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_string(),
        Err(_) => bytes.iter().map(|b| format!("{b:02x}")).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(yaml: &str) -> OutputConfig {
        serde_yaml::from_str(yaml).expect("an output")
    }

    #[test]
    fn the_key_is_the_type_and_a_hash_of_the_whole_config() {
        let a = key(&output(
            "{ type: webhook, url: 'http://h/hook?token=a', timeout: 5s }",
        ));
        assert!(a.starts_with("webhook:"), "{a}");
        assert_eq!(a.len(), "webhook:".len() + 32);
        assert!(!a.contains("token"), "{a}");
        // Everything that changes where, how or what it delivers makes another output.
        for other in [
            "{ type: webhook, url: 'http://h/hook?token=b', timeout: 5s }",
            "{ type: webhook, url: 'http://h/hook?token=a', timeout: 6s }",
            "{ type: webhook, url: 'http://h/hook?token=a', timeout: 5s, headers: { X: y } }",
            "{ type: webhook, url: 'http://h/hook?token=a', timeout: 5s, tags: [x] }",
            "{ type: webhook, url: 'http://h/hook?token=a', timeout: 5s, rules: ['a/*'] }",
            "{ type: webhook, url: 'http://h/hook?token=a', timeout: 5s, min_severity: high }",
        ] {
            assert_ne!(key(&output(other)), a, "{other}");
        }
        let argv = |c: &str| key(&output(c));
        assert_ne!(
            argv("{ type: command, command: [a, 'b c'] }"),
            argv("{ type: command, command: [a, b, c] }")
        );
        assert_ne!(
            argv("{ type: file, path: a.jsonl }"),
            argv("{ type: file, path: b.jsonl }")
        );
        let nats = "{ type: nats, url: 'nats://h:4222' }";
        assert!(argv(nats).starts_with("nats:"));
        for other in [
            "{ type: nats, url: 'nats://h:4222', subject: a.b }",
            "{ type: nats, url: 'nats://h:4222', stream: S }",
            "{ type: nats, url: 'nats://h:4222', credentials: x.creds }",
        ] {
            assert_ne!(argv(other), argv(nats), "{other}");
        }
    }

    #[test]
    fn the_key_ignores_the_name_and_how_sets_are_written() {
        let plain = key(&output(
            "{ type: webhook, url: 'http://h/', headers: { A: '1', b: '2' }, tags: [x, y] }",
        ));
        let same = key(&output(
            "{ type: webhook, name: hook, url: 'http://h/', headers: { B: '2', a: '1' }, tags: [y, x, x] }",
        ));
        assert_eq!(plain, same);
        // The form is pinned: keys that change orphan every queue.
        let stdout = output("type: stdout");
        assert_eq!(
            String::from_utf8(canonical(&stdout)).unwrap(),
            r#"{"form":1,"type":"stdout","path":null,"command":null,"url":null,"headers":[],"timeout_ns":null,"min_severity":null,"rules":[],"tags":[]}"#
        );
        assert_eq!(key(&stdout), "stdout:bd289da9af2c1b9a3b444330524290f5");
    }
}
