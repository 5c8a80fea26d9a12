//! Receiving updates: long polling or a webhook, into teloxide's dispatcher, until stopped.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use teloxide::dispatching::{Dispatcher, UpdateFilterExt};
use teloxide::error_handlers::{ErrorHandler, LoggingErrorHandler};
use teloxide::prelude::{Request, Requester};
use teloxide::types::{CallbackQuery, Message, Update};
use teloxide::update_listeners::{Polling, UpdateListener, webhooks};
use teloxide::{RequestError, dptree};

use super::send::Sender;
use super::{TelegramBot, TelegramError, Webhook, valid_secret};
use crate::delivery::Sink;

impl TelegramBot {
    /// Long-polls and answers updates, and delivers the outbox every `delivery_interval`, until
    /// `stop` resolves; then stops polling gracefully (confirming the last offset).
    pub async fn run(
        self,
        delivery_interval: Duration,
        stop: impl std::future::Future<Output = ()> + Send,
    ) -> Result<(), TelegramError> {
        let sink: Arc<dyn Sink> = Arc::new(self.sink());
        let core = self.inner.engine.core().clone();
        crate::delivery::alongside(core, sink, delivery_interval, async {
            match self.inner.webhook.clone() {
                None => self.poll(stop).await,
                Some(hook) => self.serve_webhook(&hook, stop).await,
            }
        })
        .await
    }

    /// Long polling (after removing a webhook, which would exclude it).
    async fn poll(
        &self,
        stop: impl std::future::Future<Output = ()> + Send,
    ) -> Result<(), TelegramError> {
        self.remove_webhook().await?;
        let polling = Polling::builder(self.inner.sender.bot.clone())
            .timeout(self.inner.poll_timeout)
            .build();
        tracing::info!(bot = %self.inner.username, "Telegram bot is polling");
        let errors = Arc::new(PollErrors {
            sender: self.inner.sender.clone(),
        });
        self.dispatch(polling, errors, stop).await
    }

    /// Webhook mode: registers the URL with `setWebhook` (with a secret Telegram sends back in a
    /// header; requests without it are refused) and serves it; stopping removes the webhook.
    async fn serve_webhook(
        &self,
        hook: &Webhook,
        stop: impl std::future::Future<Output = ()> + Send,
    ) -> Result<(), TelegramError> {
        let url = reqwest::Url::parse(&hook.url)
            .map_err(|e| TelegramError::Config(format!("webhook URL: {e}")))?;
        let mut options = webhooks::Options::new(hook.listen, url);
        if let Some(secret) = &hook.secret {
            if !valid_secret(secret) {
                return Err(TelegramError::Config(
                    "the webhook secret must be 1 to 256 of a-z, A-Z, 0-9, _ and -".to_owned(),
                ));
            }
            options = options.secret_token(secret.clone());
        }
        // Bound here, before the webhook is set: a port in use is an error to report (teloxide's
        // own `axum` listener panics in a task instead).
        let tcp = tokio::net::TcpListener::bind(hook.listen)
            .await
            .map_err(|e| TelegramError::Config(format!("listening on {}: {e}", hook.listen)))?;
        let (listener, stopped, router) =
            webhooks::axum_to_router(self.inner.sender.bot.clone(), options)
                .await
                .map_err(|e| TelegramError::Request(self.inner.sender.redact(&e)))?;
        let server = tokio::spawn(async move {
            axum::serve(tcp, router)
                .with_graceful_shutdown(stopped)
                .await
        });
        tracing::info!(bot = %self.inner.username, listen = %hook.listen, "Telegram bot receives updates by webhook");
        let result = self
            .dispatch(listener, LoggingErrorHandler::new(), stop)
            .await;
        match tokio::time::timeout(Duration::from_secs(10), server).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "webhook server failed"),
            Ok(Err(e)) => tracing::warn!(error = %e, "webhook server task failed"),
            Err(_) => tracing::warn!("webhook server did not stop in time"),
        }
        result
    }

    /// Runs teloxide's dispatcher on `listener` (updates of one chat in order, chats in
    /// parallel) until `stop` resolves, then stops it gracefully: polling confirms the last
    /// offset, a webhook is removed.
    async fn dispatch<L, Eh>(
        &self,
        listener: L,
        errors: Arc<Eh>,
        stop: impl std::future::Future<Output = ()> + Send,
    ) -> Result<(), TelegramError>
    where
        L: UpdateListener + Send,
        L::Err: std::fmt::Debug,
        Eh: ErrorHandler<L::Err> + Send + Sync,
    {
        let on_message = self.clone();
        let on_callback = self.clone();
        let handler = dptree::entry()
            .branch(Update::filter_message().endpoint(move |msg: Message| {
                let bot = on_message.clone();
                async move {
                    bot.handle_message(&msg).await;
                    Ok::<(), Infallible>(())
                }
            }))
            .branch(
                Update::filter_callback_query().endpoint(move |q: CallbackQuery| {
                    let bot = on_callback.clone();
                    async move {
                        bot.handle_callback(&q).await;
                        Ok::<(), Infallible>(())
                    }
                }),
            );
        let mut dispatcher = Dispatcher::builder(self.inner.sender.bot.clone(), handler)
            .default_handler(|_| async {})
            .build();
        let shutdown = dispatcher.shutdown_token();
        let dispatch = dispatcher.try_dispatch_with_listener(listener, errors);
        tokio::pin!(dispatch);
        tokio::pin!(stop);
        let mut stopping = false;
        let result = loop {
            tokio::select! {
                done = &mut dispatch => break done,
                () = &mut stop, if !stopping => stopping = true,
                // The token refuses until dispatching has started; ask again shortly.
                () = tokio::time::sleep(Duration::from_millis(50)), if stopping => {
                    if let Ok(done) = shutdown.shutdown() {
                        drop(done);
                    }
                }
            }
        };
        result.map_err(|e| TelegramError::Request(self.inner.sender.redact(&e)))
    }

    /// Polling and a webhook exclude each other: a webhook left set (by an earlier deployment)
    /// is removed. Done here rather than by teloxide's builder, whose log line would show the
    /// raw error.
    async fn remove_webhook(&self) -> Result<(), TelegramError> {
        let sender = &self.inner.sender;
        let info = sender
            .bot
            .get_webhook_info()
            .send()
            .await
            .map_err(|e| TelegramError::Request(sender.redact(&e)))?;
        if info.url.is_some() {
            tracing::info!("removing the bot's webhook to poll instead");
            sender
                .bot
                .delete_webhook()
                .send()
                .await
                .map_err(|e| TelegramError::Request(sender.redact(&e)))?;
        }
        Ok(())
    }
}

/// Logs failed `getUpdates` calls (teloxide backs off and retries) without the token.
struct PollErrors {
    sender: Arc<Sender>,
}

impl ErrorHandler<RequestError> for PollErrors {
    fn handle_error(self: Arc<Self>, error: RequestError) -> BoxFuture<'static, ()> {
        let error = self.sender.redact(&error);
        Box::pin(async move { tracing::warn!(%error, "Telegram getUpdates failed; retrying") })
    }
}
