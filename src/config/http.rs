//! `http:` — the optional endpoint for metrics and health checks (`src/metrics`). Off unless
//! the config has the section.
//!
//! The address is read where it is written, so that a bad one is reported at its line and
//! column like any value. A port alone (`9180`, `":9180"`) listens on loopback (127.0.0.1):
//! metrics name rules and outputs, and nothing should be reachable from the network unless the
//! config says so by writing a non-loopback address in full (`0.0.0.0:9180`). Host names are
//! not resolved (a config check connects nowhere), except `localhost`.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};

use serde::Deserialize;
use serde::de::{Deserializer, Error, Visitor};

use super::validate::{Problem, Section};
use super::yaml::KeyPath;

/// The `http:` section.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Where to listen. Port 0 takes a free port (the log says which).
    #[serde(deserialize_with = "listen")]
    pub listen: SocketAddr,
}

/// `http:` is checked as it is read: nothing more to check.
impl Section for Option<HttpConfig> {
    fn validate(&mut self, _: &KeyPath) -> Vec<Problem> {
        Vec::new()
    }
}

const EXAMPLES: &str =
    "127.0.0.1:9180, [::1]:9180, 0.0.0.0:9180, or a port alone (9180, on loopback)";

/// Parses a listen address as `http.listen` takes it.
pub fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    let text = s.trim();
    let port_only = text.strip_prefix(':').unwrap_or(text);
    if !port_only.is_empty() && port_only.bytes().all(|b| b.is_ascii_digit()) {
        return port(port_only).map(loopback);
    }
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if let Some(p) = text.strip_prefix("localhost:") {
        return port(p).map(loopback);
    }
    if text.parse::<std::net::IpAddr>().is_ok() || text == "localhost" {
        return Err(format!(
            "{s:?} has no port: write it as address:port, e.g. {EXAMPLES}"
        ));
    }
    Err(format!(
        "invalid address {s:?}: expected an IP address and a port (host names are not resolved), e.g. {EXAMPLES}"
    ))
}

fn port(s: &str) -> Result<u16, String> {
    s.parse()
        .map_err(|_| format!("invalid port {s:?}: a port is a number from 0 to 65535"))
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// Reads `listen:` as a string (`"127.0.0.1:9180"`) or a number (a port).
struct ListenVisitor;

impl Visitor<'_> for ListenVisitor {
    type Value = SocketAddr;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "an address to listen on, e.g. {EXAMPLES}")
    }

    fn visit_u64<E: Error>(self, n: u64) -> Result<SocketAddr, E> {
        u16::try_from(n).map(loopback).map_err(|_| {
            E::custom(format!(
                "invalid port {n}: a port is a number from 0 to 65535"
            ))
        })
    }

    fn visit_i64<E: Error>(self, n: i64) -> Result<SocketAddr, E> {
        u64::try_from(n)
            .map_err(|_| {
                E::custom(format!(
                    "invalid port {n}: a port is a number from 0 to 65535"
                ))
            })
            .and_then(|n| self.visit_u64(n))
    }

    fn visit_str<E: Error>(self, s: &str) -> Result<SocketAddr, E> {
        parse_listen(s).map_err(E::custom)
    }
}

fn listen<'de, D: Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
    d.deserialize_any(ListenVisitor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::path::Path;

    #[test]
    fn addresses_and_ports() {
        let ok = |s: &str| parse_listen(s).unwrap().to_string();
        assert_eq!(ok("127.0.0.1:9180"), "127.0.0.1:9180");
        assert_eq!(ok("9180"), "127.0.0.1:9180", "a port alone is on loopback");
        assert_eq!(ok(":9180"), "127.0.0.1:9180");
        assert_eq!(ok("localhost:9180"), "127.0.0.1:9180");
        assert_eq!(
            ok("0.0.0.0:9180"),
            "0.0.0.0:9180",
            "written in full: allowed"
        );
        assert_eq!(ok("[::1]:0"), "[::1]:0");
        for bad in [
            "",
            "banana",
            "127.0.0.1",
            "example.com:80",
            "1.2.3.4:99999",
            "70000",
        ] {
            assert!(parse_listen(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_section_reads_where_it_is_written() {
        let parse = |yaml: &str| {
            let (config, problems) = Config::parse_all(yaml, Path::new("n.yaml"));
            let problems: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
            (config, problems)
        };
        let (config, problems) = parse("http: { listen: 9180 }\n");
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(config.http.unwrap().listen.to_string(), "127.0.0.1:9180");
        let (config, _) = parse("rules: r\n");
        assert_eq!(config.http, None, "off by default");
        let (_, problems) = parse("rules: r\nhttp:\n  listen: \"example.com:80\"\n");
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("n.yaml:3:11: http.listen: invalid address \"example.com:80\""),
            "{problems:?}"
        );
        let (_, problems) = parse("http:\n  port: 9180\n");
        assert!(
            problems[0].starts_with("n.yaml:2:3: http: unknown field `port`"),
            "{problems:?}"
        );
        let (_, problems) = parse("http: {}\n");
        assert!(
            problems[0].contains("missing field `listen`"),
            "{problems:?}"
        );
    }
}
