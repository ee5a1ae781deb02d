//! `type: nats`: each alert published to NATS JetStream on `SUBJECT.RULE` with `Nats-Msg-Id` =
//! the alert's id, delivered once the server acknowledges it (so it is stored in a stream). The
//! stream's duplicate window drops an alert published twice (a retry after a lost ack), and a
//! receiver drops later repeats by `id`.
//!
//! Also what the fleet's workers (`newswatch consume`) publish alerts with: one subject scheme,
//! one alerts stream, the same ids whoever publishes.
//!
//! `async-nats` runs on tokio; the runtime stays inside this output (one small runtime with a
//! thread that keeps the connection alive between alerts), and `deliver` blocks on it, as the
//! outbox's delivery threads expect.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_nats::jetstream::{self, message::PublishMessage, stream};
use async_nats::{ConnectOptions, ServerAddr};

use super::{DeliveryError, Digest, Output, OutputError};
use newswatch_engine::alert::Alert;

/// Alerts go to `DEFAULT_SUBJECT.RULE` unless configured otherwise.
pub const DEFAULT_SUBJECT: &str = "newswatch.alerts";
/// The stream created for the alerts when no stream holds their subjects.
pub const DEFAULT_STREAM: &str = "NEWSWATCH_ALERTS";
/// The duplicate window of the streams newswatch creates: longer than the span over which one
/// article can be delivered again (`fleet::stream`: at most 10 deliveries, 15.5 minutes apart
/// in all), so that the alerts of every delivery but the first are dropped as duplicates.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(20 * 60);

/// Where a `nats` output publishes, as configured (URL and credentials expanded).
#[derive(Clone, Debug)]
pub struct NatsTarget {
    pub url: String,
    /// The URL as written, when it reads the environment: it names the output.
    pub url_as_written: Option<String>,
    pub subject: Option<String>,
    pub stream: Option<String>,
    pub credentials: Option<PathBuf>,
    pub timeout: Option<Duration>,
}

pub struct NatsOutput {
    name: String,
    target: NatsTarget,
    subject: String,
    timeout: Duration,
    runtime: tokio::runtime::Runtime,
    /// Connected once, at the first alert: a server that is down does not stop the daemon.
    context: Option<jetstream::Context>,
}

impl NatsOutput {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

    pub fn new(target: NatsTarget) -> Result<NatsOutput, OutputError> {
        check_nats_url(&target.url).map_err(OutputError::Url)?;
        let runtime = runtime("newswatch-nats-output")
            .map_err(|e| OutputError::Config(format!("cannot start the NATS client: {e}")))?;
        Ok(NatsOutput {
            name: NatsOutput::name_for(
                &target.url,
                target.url_as_written.as_deref(),
                target.subject.as_deref(),
            ),
            subject: target.subject.clone().unwrap_or(DEFAULT_SUBJECT.into()),
            timeout: target.timeout.unwrap_or(NatsOutput::DEFAULT_TIMEOUT),
            target,
            runtime,
            context: None,
        })
    }

    /// `nats URL SUBJECT`: the URL as written when it reads the environment, else without user
    /// and password.
    pub fn name_for(url: &str, as_written: Option<&str>, subject: Option<&str>) -> String {
        let url = as_written.map_or_else(|| redacted(url), str::to_string);
        format!("nats {url} {}", subject.unwrap_or(DEFAULT_SUBJECT))
    }

    /// Publishes one message (an alert's or a digest's JSON) and waits for its acknowledgement.
    async fn publish(
        &mut self,
        subject: String,
        id: &str,
        json: bytes::Bytes,
    ) -> Result<(), DeliveryError> {
        let transient = |what: &str, e: &dyn std::fmt::Display| {
            DeliveryError::transient(format!("{}: {what}: {e}", self.name))
        };
        if self.context.is_none() {
            let client = connect(
                &self.target.url,
                self.target.credentials.as_deref(),
                ConnectMode::Once,
            )
            .await
            .map_err(|e| transient("cannot connect", &e))?;
            let mut context = jetstream::new(client);
            context.set_timeout(self.timeout);
            let stream = self.target.stream.as_deref().unwrap_or(DEFAULT_STREAM);
            ensure_alerts_stream(&context, stream, &self.subject)
                .await
                .map_err(|e| transient("cannot set up the alerts stream", &e))?;
            self.context = Some(context);
        }
        let context = self.context.as_ref().expect("connected above");
        let ack = publish_json(context, subject, id, json)
            .await
            .map_err(|e| self.refused(e))?;
        ack.await.map_err(|e| transient("no acknowledgement", &e))?;
        Ok(())
    }

    fn refused(&self, e: async_nats::jetstream::context::PublishError) -> DeliveryError {
        use async_nats::jetstream::context::PublishErrorKind;
        let message = format!("{}: {e}", self.name);
        match e.kind() {
            // The same alert will never fit.
            PublishErrorKind::MaxPayloadExceeded => DeliveryError::permanent(message),
            _ => DeliveryError::transient(message),
        }
    }
}

impl Output for NatsOutput {
    fn name(&self) -> &str {
        &self.name
    }

    fn deliver(&mut self, alert: &Alert) -> Result<(), DeliveryError> {
        let subject = alert_subject(&self.subject, &alert.rule);
        self.send(subject, &alert.id, alert.to_json().into())
    }

    /// A digest goes to `SUBJECT._digest`, its id the period's start, so a digest delivered
    /// again after a lost acknowledgement is dropped by the stream's duplicate window.
    fn deliver_digest(&mut self, digest: &Digest) -> Result<(), DeliveryError> {
        let subject = format!("{}._digest", self.subject);
        let id = format!("digest:{}", digest.from);
        self.send(subject, &id, digest.to_json().into())
    }
}

impl NatsOutput {
    /// [`NatsOutput::publish`] within the output's timeout, on its runtime.
    fn send(&mut self, subject: String, id: &str, json: bytes::Bytes) -> Result<(), DeliveryError> {
        let timeout = self.timeout;
        let runtime = self.runtime.handle().clone();
        let name = self.name.clone();
        runtime.block_on(async {
            match tokio::time::timeout(timeout, self.publish(subject, id, json)).await {
                Ok(result) => result,
                Err(_) => Err(DeliveryError::transient(format!(
                    "{name}: no acknowledgement within {timeout:?}"
                ))),
            }
        })
    }
}

/// The runtime of a NATS client inside a synchronous program: one thread, named `name`, that
/// keeps the connection alive (answers pings, reconnects) while the caller does other work.
pub fn runtime(name: &str) -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name(name)
        .enable_all()
        .build()
}

/// Checks a NATS server URL (`nats://host:4222`, `tls://…`, `host:port`, or several separated
/// by commas) without connecting.
pub fn check_nats_url(url: &str) -> Result<(), String> {
    server_addrs(url).map(|_| ())
}

/// The servers of a URL list as `async-nats` takes them.
pub fn server_addrs(url: &str) -> Result<Vec<ServerAddr>, String> {
    let addrs: Result<Vec<ServerAddr>, String> = url
        .split(',')
        .map(str::trim)
        .map(|one| {
            if one.is_empty() {
                return Err(format!(
                    "NATS url {url:?} is empty: write it like nats://127.0.0.1:4222"
                ));
            }
            one.parse::<ServerAddr>().map_err(|e| {
                format!("NATS url {one:?} is not valid ({e}): write it like nats://127.0.0.1:4222")
            })
        })
        .collect();
    addrs
}

/// How [`connect`] treats a server that is not there yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectMode {
    /// Fail at once (`publish`, an output's delivery that is retried later).
    Once,
    /// Keep trying in the background (a worker started before its server).
    Wait,
}

/// A client of the servers of `url`, with credentials if given, that reconnects forever (a
/// server restart is a pause, not an end) and logs its connection's ups and downs.
pub async fn connect(
    url: &str,
    credentials: Option<&Path>,
    mode: ConnectMode,
) -> Result<async_nats::Client, String> {
    let addrs = server_addrs(url)?;
    let shown = redacted(url);
    let mut options = ConnectOptions::new();
    if let Some(path) = credentials {
        options = options
            .credentials_file(path)
            .await
            .map_err(|e| format!("cannot read NATS credentials {}: {e}", path.display()))?;
    }
    let logged = shown.clone();
    options = options
        .name(concat!("newswatch/", env!("CARGO_PKG_VERSION")))
        .max_reconnects(None)
        .connection_timeout(Duration::from_secs(5))
        .event_callback(move |event| {
            let shown = logged.clone();
            async move {
                use async_nats::Event;
                match event {
                    Event::Connected => tracing::info!("NATS {shown}: connected"),
                    Event::Disconnected => {
                        tracing::warn!("NATS {shown}: disconnected; reconnecting")
                    }
                    Event::SlowConsumer(_) => tracing::debug!("NATS {shown}: {event}"),
                    other => tracing::warn!("NATS {shown}: {other}"),
                }
            }
        });
    if mode == ConnectMode::Wait {
        options = options.retry_on_initial_connect();
    }
    options
        .connect(addrs)
        .await
        .map_err(|e| format!("cannot connect to NATS at {shown}: {e}"))
}

/// The subject of an alert of `rule` under `prefix`: `prefix.RULE`, a rule in a subfolder
/// (`chips/nvidia`) one token per folder (`prefix.chips.nvidia`), and any character a subject
/// token cannot hold (whitespace, `.`, `*`, `>`) as `_`. The alert JSON has the exact name.
pub fn alert_subject(prefix: &str, rule: &str) -> String {
    let mut subject = String::with_capacity(prefix.len() + rule.len() + 1);
    subject.push_str(prefix);
    for token in rule.split('/') {
        subject.push('.');
        if token.is_empty() {
            subject.push('_');
        }
        subject.extend(token.chars().map(|c| {
            if c.is_whitespace() || c.is_control() || matches!(c, '.' | '*' | '>') {
                '_'
            } else {
                c
            }
        }));
    }
    subject
}

/// Publishes an alert's JSON already serialized (`json`) to `subject` with `Nats-Msg-Id` = `id`.
pub async fn publish_json(
    context: &jetstream::Context,
    subject: String,
    id: &str,
    json: bytes::Bytes,
) -> Result<jetstream::context::PublishAckFuture, jetstream::context::PublishError> {
    context
        .send_publish(
            subject,
            PublishMessage::build().payload(json).message_id(id),
        )
        .await
}

/// Makes sure a stream holds the alerts (`prefix.>`): the stream `name` if it exists, else a
/// new one of that name (file storage, the [`DUPLICATE_WINDOW`]). A stream of another name that
/// already holds those subjects is used as it is.
pub async fn ensure_alerts_stream(
    context: &jetstream::Context,
    name: &str,
    prefix: &str,
) -> Result<(), String> {
    let subjects = format!("{prefix}.>");
    ensure_stream(
        context,
        stream::Config {
            name: name.to_string(),
            subjects: vec![subjects],
            storage: stream::StorageType::File,
            duplicate_window: DUPLICATE_WINDOW,
            description: Some("newswatch alerts: SUBJECT.RULE, Nats-Msg-Id = alert id".into()),
            ..Default::default()
        },
    )
    .await
}

/// The stream of `config.name` if it exists, else created as `config` says. When another
/// stream already holds the subjects (the server refuses an overlap), that one is used.
pub async fn ensure_stream(
    context: &jetstream::Context,
    config: stream::Config,
) -> Result<(), String> {
    use async_nats::jetstream::context::{CreateStreamErrorKind, GetStreamErrorKind};
    let name = config.name.clone();
    let subjects = config.subjects.join(", ");
    match context.get_stream(&name).await {
        Ok(_) => return Ok(()),
        Err(e)
            if matches!(e.kind(), GetStreamErrorKind::JetStream(ref j)
            if j.error_code() == async_nats::jetstream::ErrorCode::STREAM_NOT_FOUND) => {}
        Err(e) => return Err(format!("cannot look up stream {name}: {e}")),
    }
    match context.create_stream(config).await {
        Ok(_) => {
            tracing::info!("created stream {name} for {subjects}");
            Ok(())
        }
        Err(e) => match e.kind() {
            CreateStreamErrorKind::JetStream(j)
                if j.error_code() == async_nats::jetstream::ErrorCode::STREAM_SUBJECT_OVERLAP =>
            {
                tracing::info!("{subjects} is held by another stream than {name}: using it");
                Ok(())
            }
            // Created meanwhile by another worker.
            CreateStreamErrorKind::JetStream(j)
                if j.error_code() == async_nats::jetstream::ErrorCode::STREAM_NAME_EXIST =>
            {
                Ok(())
            }
            _ => Err(format!("cannot create stream {name} for {subjects}: {e}")),
        },
    }
}

/// `url` without user and password (each server of a list).
pub fn redacted(url: &str) -> String {
    url.split(',')
        .map(|one| {
            let one = one.trim();
            let (scheme, rest) = one.split_once("://").map_or(("", one), |(s, r)| (s, r));
            let host = rest.rsplit('@').next().unwrap_or(rest);
            let user = if rest.contains('@') { "…@" } else { "" };
            if scheme.is_empty() {
                format!("{user}{host}")
            } else {
                format!("{scheme}://{user}{host}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_subjects_are_one_token_per_folder() {
        assert_eq!(
            alert_subject("newswatch.alerts", "deepseek_h200"),
            "newswatch.alerts.deepseek_h200"
        );
        assert_eq!(alert_subject("a", "chips/nvidia"), "a.chips.nvidia");
        assert_eq!(alert_subject("a", "x.y z*>"), "a.x_y_z__");
        assert_eq!(alert_subject("a", "/x//"), "a._.x._._");
    }

    #[test]
    fn urls_are_checked_and_names_hide_passwords() {
        assert!(check_nats_url("nats://127.0.0.1:4222").is_ok());
        assert!(check_nats_url("127.0.0.1:4222, tls://h:4443").is_ok());
        assert!(check_nats_url("http://h").is_err());
        assert!(check_nats_url("").is_err());
        assert_eq!(redacted("nats://u:p@h:4222"), "nats://…@h:4222");
        assert_eq!(redacted("h:1,nats://h2:2"), "h:1,nats://h2:2");
    }
}
