//! `newswatch publish`: files (folders recursively, `-` for stdin) into the articles stream, one
//! message per file — its bytes, `Newswatch-Name` (its path, for the format and the alerts),
//! `Newswatch-Source` (the folder it was found in) and `Nats-Msg-Id` = the SHA-256 of the
//! bytes, so that a file published twice within the duplicate window is stored once.
//!
//! A thread reads the files while the runtime publishes; at most [`IN_FLIGHT`] publishes wait
//! for their acknowledgement at a time, so a burst of thousands of files neither waits on each
//! round trip nor floods the server. A file counts as published once the server has stored it.

use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, message::PublishMessage};
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use sha2::{Digest, Sha256};

use super::{NAME_HEADER, SOURCE_HEADER, Settings, stream};
use crate::outputs::nats::{ConnectMode, connect};
use crate::sources::Input;

/// Publishes awaiting their acknowledgement at most…
const IN_FLIGHT: usize = 256;
/// …and bytes (a burst of large files must not fill memory).
const IN_FLIGHT_BYTES: usize = 64 << 20;
/// Files read ahead of the publisher.
const READ_AHEAD: usize = 64;

/// What a publish did.
#[derive(Debug, Default)]
pub struct Published {
    /// Files stored as new messages.
    pub stored: usize,
    /// Files the stream already held (the same bytes, within the duplicate window).
    pub duplicates: usize,
    /// Files that could not be published, and why.
    pub failed: Vec<(String, String)>,
}

/// A file read, ready to publish.
struct Ready {
    name: String,
    source: String,
    bytes: Result<Vec<u8>, String>,
}

/// Publishes `inputs` (read with the size limit `max_file_size`) to the settings' subject,
/// creating the articles stream if missing. `Err` when nothing could be published at all (no
/// server, no stream); otherwise what was and was not published.
pub fn publish(
    settings: &Settings,
    inputs: Vec<Input>,
    max_file_size: u64,
) -> Result<Published, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the NATS client: {e}"))?;
    runtime.block_on(run(settings, inputs, max_file_size))
}

async fn run(
    settings: &Settings,
    inputs: Vec<Input>,
    max_file_size: u64,
) -> Result<Published, String> {
    let client = connect(
        &settings.url,
        settings.credentials.as_deref(),
        ConnectMode::Once,
    )
    .await?;
    let mut context = jetstream::new(client.clone());
    context.set_timeout(settings.timeout);
    stream::ensure_articles_stream(&context, settings).await?;
    let max_payload = client.server_info().max_payload;

    let (tx, mut rx) = tokio::sync::mpsc::channel::<Ready>(READ_AHEAD);
    let reader = std::thread::Builder::new()
        .name("newswatch-read".into())
        .spawn(move || {
            for input in inputs {
                let ready = Ready {
                    name: input.path().to_string_lossy().into_owned(),
                    source: input.source().to_string(),
                    bytes: input.read(max_file_size).map_err(|e| e.to_string()),
                };
                if tx.blocking_send(ready).is_err() {
                    return;
                }
            }
        })
        .map_err(|e| format!("cannot start a reading thread: {e}"))?;

    let mut done = Published::default();
    let mut in_flight = FuturesUnordered::new();
    let mut lost: Option<String> = None;
    let mut bytes_in_flight = 0;
    while let Some(ready) = rx.recv().await {
        if let Some(why) = &lost {
            done.failed.push((ready.name, why.clone()));
            continue;
        }
        let bytes = match ready.bytes {
            Ok(bytes) => bytes,
            Err(e) => {
                done.failed.push((ready.name, e));
                continue;
            }
        };
        if bytes.len() > max_payload {
            let why = format!(
                "{} bytes, more than the server takes in one message (max_payload {max_payload}): raise max_payload in the server's config",
                bytes.len()
            );
            done.failed.push((ready.name, why));
            continue;
        }
        while in_flight.len() >= IN_FLIGHT
            || (!in_flight.is_empty() && bytes_in_flight + bytes.len() > IN_FLIGHT_BYTES)
        {
            bytes_in_flight -= settle(&mut in_flight, &mut done, &client, &mut lost).await;
        }
        let size = bytes.len();
        bytes_in_flight += size;
        let id = format!("{:x}", Sha256::digest(&bytes));
        let mut headers = HeaderMap::new();
        headers.insert(NAME_HEADER, header_value(&ready.name).as_str());
        headers.insert(SOURCE_HEADER, header_value(&ready.source).as_str());
        let message = PublishMessage::build()
            .payload(Bytes::from(bytes))
            .headers(headers)
            .message_id(&id);
        let context = context.clone();
        let subject = settings.subject.clone();
        let name = ready.name;
        in_flight.push(async move {
            let result = match context.send_publish(subject, message).await {
                Ok(ack) => ack.await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            (name, size, result)
        });
    }
    while !in_flight.is_empty() {
        settle(&mut in_flight, &mut done, &client, &mut lost).await;
    }
    let _ = reader.join();
    let _ = tokio::time::timeout(Duration::from_secs(1), client.flush()).await;
    Ok(done)
}

/// A file's name, size, and what the server said.
type Acked = (
    String,
    usize,
    Result<jetstream::publish::PublishAck, String>,
);

/// Waits for one acknowledgement; returns the size of the file it was for. A failure while the
/// connection is down ends the publish: what is left is not published (and said so), rather
/// than each file waiting its timeout.
async fn settle(
    in_flight: &mut FuturesUnordered<impl std::future::Future<Output = Acked>>,
    done: &mut Published,
    client: &async_nats::Client,
    lost: &mut Option<String>,
) -> usize {
    let Some((name, size, result)) = in_flight.next().await else {
        return 0;
    };
    match result {
        Ok(ack) if ack.duplicate => done.duplicates += 1,
        Ok(_) => done.stored += 1,
        Err(e) => {
            if lost.is_none()
                && client.connection_state() != async_nats::connection::State::Connected
            {
                *lost = Some(format!("the connection to the server was lost ({e})"));
            }
            done.failed.push((name, e));
        }
    }
    size
}

/// A header value holds no line breaks: they (and other control characters) become `?`.
fn header_value(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}
