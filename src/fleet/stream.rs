//! The articles stream and the workers' shared consumer: created when missing, with a duplicate
//! window longer than the span over which one article can be delivered again.

use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};

use super::Settings;
use crate::outputs::nats::{DUPLICATE_WINDOW, ensure_stream};

/// The longest wait between two deliveries of one article.
const MAX_BACKOFF: Duration = Duration::from_secs(120);

/// The waits before each redelivery of an article whose worker neither acked it nor said it is
/// still at work: `ack_wait`, then doubling up to two minutes — `max_deliver - 1` of them.
/// (JetStream waits the first for the first delivery's ack, and so on.)
pub fn backoff(ack_wait: Duration, max_deliver: i64) -> Vec<Duration> {
    let redeliveries = max_deliver.saturating_sub(1).max(0) as u32;
    (0..redeliveries)
        .map(|i| {
            ack_wait
                .saturating_mul(1 << i.min(16))
                .min(MAX_BACKOFF.max(ack_wait))
        })
        .collect()
}

/// How long after its first delivery an article may still be delivered again (not counting
/// the time workers spend on it): what the duplicate window must exceed.
pub fn redelivery_span(ack_wait: Duration, max_deliver: i64) -> Duration {
    backoff(ack_wait, max_deliver).iter().sum()
}

/// Makes sure the articles stream exists: the one named in the settings as it is, else a new
/// one on the articles subject — file storage, work-queue retention (an article acked is done
/// and leaves the stream) and the [`DUPLICATE_WINDOW`], which drops a file published twice.
pub async fn ensure_articles_stream(
    context: &jetstream::Context,
    settings: &Settings,
) -> Result<(), String> {
    ensure_stream(
        context,
        stream::Config {
            name: settings.stream.clone(),
            subjects: vec![settings.subject.clone()],
            storage: stream::StorageType::File,
            retention: stream::RetentionPolicy::WorkQueue,
            duplicate_window: DUPLICATE_WINDOW,
            description: Some(
                "newswatch articles: file bytes, Newswatch-Name, Nats-Msg-Id = SHA-256".into(),
            ),
            ..Default::default()
        },
    )
    .await
}

/// The consumer every worker shares, as the settings describe it.
pub fn consumer_config(settings: &Settings) -> consumer::pull::Config {
    consumer::pull::Config {
        durable_name: Some(settings.durable.clone()),
        description: Some("newswatch consume workers".into()),
        ack_policy: consumer::AckPolicy::Explicit,
        ack_wait: settings.ack_wait,
        max_deliver: settings.max_deliver,
        backoff: backoff(settings.ack_wait, settings.max_deliver),
        max_ack_pending: settings.max_ack_pending,
        ..Default::default()
    }
}

/// The streams (articles and alerts) and the shared consumer, created or brought to the
/// settings: a consumer whose ack wait, deliveries or bound differ is updated (every worker of
/// a fleet should share one config).
pub async fn set_up(
    context: &jetstream::Context,
    settings: &Settings,
) -> Result<consumer::PullConsumer, String> {
    ensure_articles_stream(context, settings).await?;
    crate::outputs::nats::ensure_alerts_stream(
        context,
        &settings.alerts_stream,
        &settings.alerts_subject,
    )
    .await?;
    let stream = context
        .get_stream(&settings.stream)
        .await
        .map_err(|e| format!("cannot look up stream {}: {e}", settings.stream))?;
    let wanted = consumer_config(settings);
    let durable = &settings.durable;
    let consumer: consumer::PullConsumer = stream
        .get_or_create_consumer(durable, wanted.clone())
        .await
        .map_err(|e| {
            format!(
                "cannot create consumer {durable} on {}: {e}",
                settings.stream
            )
        })?;
    let have = &consumer.cached_info().config;
    let differs = have.ack_wait != wanted.ack_wait
        || have.max_deliver != wanted.max_deliver
        || have.max_ack_pending != wanted.max_ack_pending
        || have.backoff != wanted.backoff;
    if !differs {
        return Ok(consumer);
    }
    tracing::info!(
        "consumer {durable}: updating to ack_wait {:?}, max_deliver {}, max_ack_pending {}",
        wanted.ack_wait,
        wanted.max_deliver,
        wanted.max_ack_pending
    );
    let mut update = consumer.cached_info().config.clone();
    update.ack_wait = wanted.ack_wait;
    update.max_deliver = wanted.max_deliver;
    update.max_ack_pending = wanted.max_ack_pending;
    update.backoff = wanted.backoff;
    context
        .update_consumer_on_stream(
            consumer::pull::Config {
                durable_name: Some(durable.clone()),
                ack_policy: update.ack_policy,
                ack_wait: update.ack_wait,
                max_deliver: update.max_deliver,
                backoff: update.backoff,
                max_ack_pending: update.max_ack_pending,
                description: update.description,
                filter_subject: update.filter_subject,
                filter_subjects: update.filter_subjects,
                deliver_policy: update.deliver_policy,
                ..Default::default()
            },
            &settings.stream,
        )
        .await
        .map_err(|e| format!("cannot update consumer {durable}: {e}"))?;
    stream
        .get_consumer(durable)
        .await
        .map_err(|e| format!("cannot look up consumer {durable}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::NatsConfig;

    #[test]
    fn the_duplicate_window_outlasts_every_redelivery() {
        let s = Duration::from_secs;
        assert_eq!(backoff(s(30), 5), [s(30), s(60), s(120), s(120)]);
        assert_eq!(backoff(s(2), 3), [s(2), s(4)]);
        let worst = redelivery_span(NatsConfig::MAX_ACK_WAIT, NatsConfig::MAX_DELIVER);
        assert!(worst < DUPLICATE_WINDOW, "{worst:?}");
        assert_eq!(backoff(s(30), 10).len(), 9);
    }
}
