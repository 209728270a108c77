//! One Telegram account's polling loop: start-up, then long polls from the stored offset, each
//! update handed to the [`Sink`] in order, errors retried with backoff or ending the loop.
//!
//! The sink owns durability: [`Sink::handle`] records the update and its id as the bot's last
//! handled update *together* (one SQLite transaction in the gateway), and
//! [`Sink::last_update_id`] reads it back keyed by the bot id, so a restart neither replays nor
//! loses an update, and a token for another bot does not inherit the offset. The loop has no
//! clock of its own: it reports [`Event`]s and the driver stamps them. Stop it by dropping the
//! future (the gateway aborts the task on shutdown or reload).
//!
//! [`run_webhook`] is webhook mode: `setWebhook` instead of long polls, the updates arriving
//! from the gateway's listener as [`Delivery`]s.

use std::future::Future;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::bot::{BotApi, BotInfo, CallError, Transport, POLL_TIMEOUT_S};
use super::update::{parse_batch, Update};
use crate::backoff::{BackoffPolicy, Jitter, TELEGRAM_POLLING};

/// Where the loop's updates and progress go.
pub trait Sink: Send + Sync {
    /// The last update id handled for this bot, if any.
    fn last_update_id(&self, bot: &BotInfo) -> impl Future<Output = Option<i64>> + Send;
    /// Handles one update and records `update.update_id` as handled for the bot, atomically.
    /// `update` is `None` for an update that could not be parsed (only its id is recorded).
    fn handle(&self, bot: &BotInfo, update_id: i64, update: Option<Update>) -> impl Future<Output = ()> + Send;
    /// A progress report for the account's health.
    fn event(&self, event: Event);
}

/// What the loop reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Start-up done: polling as this bot.
    Started(BotInfo),
    /// A poll completed (the connection works).
    Polled,
    /// A call failed; `retry_in` when the loop retries, `None` when it gives up.
    Error { error: CallError, retry_in: Option<Duration> },
}

/// Loop settings.
#[derive(Clone, Debug)]
pub struct LoopConfig {
    pub poll_timeout_s: u64,
    pub backoff: BackoffPolicy,
    /// Seeds the backoff jitter.
    pub seed: u64,
}

impl Default for LoopConfig {
    fn default() -> Self {
        Self { poll_timeout_s: POLL_TIMEOUT_S, backoff: TELEGRAM_POLLING, seed: 0 }
    }
}

/// Runs the account until a non-retryable error (returned; e.g. a 401 for a revoked token).
pub async fn run<T: Transport, S: Sink>(api: &BotApi<T>, sink: &S, config: &LoopConfig) -> CallError {
    let mut jitter = Jitter::new(config.seed);
    let mut attempt = 0u32;
    // Backs off after a retryable error, or gives the error back.
    let fail = |error: CallError, jitter: &mut Jitter, attempt: &mut u32| {
        if !error.is_retryable() {
            sink.event(Event::Error { error: error.clone(), retry_in: None });
            return Err(error);
        }
        *attempt += 1;
        let delay = config.backoff.delay(*attempt, jitter.next_fraction());
        sink.event(Event::Error { error, retry_in: Some(delay) });
        Ok(delay)
    };
    'start: loop {
        let bot = match api.start_up().await {
            Ok(bot) => bot,
            Err(e) => match fail(e, &mut jitter, &mut attempt) {
                Ok(delay) => {
                    tokio::time::sleep(delay).await;
                    continue 'start;
                }
                Err(e) => return e,
            },
        };
        sink.event(Event::Started(bot.clone()));
        let mut last = sink.last_update_id(&bot).await;
        loop {
            match api.get_updates(last.map(|id| id + 1), config.poll_timeout_s).await {
                Ok(batch) => {
                    attempt = 0;
                    sink.event(Event::Polled);
                    let mut items: Vec<(i64, Option<Update>)> = batch.updates.into_iter().map(|u| (u.update_id, Some(u))).collect();
                    items.extend(batch.rejected.into_iter().filter_map(|(id, _)| id.map(|id| (id, None))));
                    items.sort_by_key(|(id, _)| *id);
                    for (id, update) in items {
                        // Already handled (Telegram re-delivers until the offset confirms).
                        if last.is_some_and(|l| id <= l) {
                            continue;
                        }
                        sink.handle(&bot, id, update).await;
                        last = Some(id);
                    }
                }
                Err(e) => match fail(e, &mut jitter, &mut attempt) {
                    Ok(delay) => tokio::time::sleep(delay).await,
                    Err(e) => return e,
                },
            }
        }
    }
}

/// One update Telegram posted to the webhook; `done` is answered once it is recorded (the
/// listener then answers Telegram 200, so an update is never acknowledged before it is durable).
#[derive(Debug)]
pub struct Delivery {
    pub update: Value,
    pub done: oneshot::Sender<()>,
}

/// Webhook mode: start-up with `setWebhook`, then every update the listener receives handed
/// to the sink in arrival order (a redelivered update is deduplicated by the sink's inbox).
/// Returns on a non-retryable start-up error, or when the listener is gone.
pub async fn run_webhook<T: Transport, S: Sink>(
    api: &BotApi<T>,
    sink: &S,
    config: &LoopConfig,
    url: &str,
    secret: &str,
    inbox: &mut mpsc::Receiver<Delivery>,
) -> CallError {
    let mut jitter = Jitter::new(config.seed);
    let mut attempt = 0u32;
    let bot = loop {
        match api.start_up_webhook(url, secret).await {
            Ok(bot) => break bot,
            Err(error) if error.is_retryable() => {
                attempt += 1;
                let delay = config.backoff.delay(attempt, jitter.next_fraction());
                sink.event(Event::Error { error, retry_in: Some(delay) });
                tokio::time::sleep(delay).await;
            }
            Err(error) => {
                sink.event(Event::Error { error: error.clone(), retry_in: None });
                return error;
            }
        }
    };
    sink.event(Event::Started(bot.clone()));
    sink.event(Event::Polled);
    while let Some(delivery) = inbox.recv().await {
        let batch = parse_batch(&Value::Array(vec![delivery.update]));
        let item = match batch {
            Ok(b) => b.updates.into_iter().next().map(|u| (u.update_id, Some(u))).or_else(|| b.rejected.into_iter().find_map(|(id, _)| id.map(|id| (id, None)))),
            Err(_) => None,
        };
        if let Some((id, update)) = item {
            sink.handle(&bot, id, update).await;
            sink.event(Event::Polled);
        }
        let _ = delivery.done.send(());
    }
    CallError::Transport("the webhook listener stopped".into())
}
