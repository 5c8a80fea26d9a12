//! Outbox sinks that need no chat platform.

use std::future::Future;
use std::pin::Pin;

use coinsence_api::domain::governance::outbox::{DeliveryError, OutboxEvent, OutboxSink};
use coinsence_api::domain::tenancy::Tenant;

/// Writes every event to the log (`coinsence up` without chat bots, `worker --outbox-log`):
/// the events count as delivered.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogSink;

impl OutboxSink for LogSink {
    fn deliver<'a>(
        &'a self,
        tenant: &'a Tenant,
        event: &'a OutboxEvent,
    ) -> Pin<Box<dyn Future<Output = Result<(), DeliveryError>> + Send + 'a>> {
        Box::pin(async move {
            tracing::info!(org = %tenant.slug, kind = %event.kind, dedup_key = %event.dedup_key,
                payload = %event.payload, "event");
            Ok(())
        })
    }
}
