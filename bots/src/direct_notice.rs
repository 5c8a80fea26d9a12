//! The first private message a person gets from the outbox (a receipt, by direct message; on
//! Matrix an end-to-end encrypted one) is announced once in the org's rooms, so someone whose
//! client shows no direct messages (or cannot decrypt them) learns where to look. Remembered per
//! person and platform in the database, so a restart does not announce it again.

use coinsence_api::Core;
use coinsence_api::domain::chat::{ChatIdentity, ChatPlatform, ChatTarget};
use coinsence_api::domain::tenancy::Tenant;
use coinsence_api::i18n::Args;

use crate::delivery::{Sink, stable_hash};
use crate::say::{self, strong};

/// After a direct message reached `target`: tells the org's rooms on this platform, the first
/// time only. Failures are logged; the receipt itself was delivered.
pub async fn after_direct(core: &Core, tenant: &Tenant, sink: &dyn Sink, target: &ChatTarget) {
    let ChatTarget::Direct {
        user,
        platform_user_id,
        ..
    } = target
    else {
        return;
    };
    let platform: ChatPlatform = sink.platform();
    let Ok(who) = ChatIdentity::new(platform, platform_user_id) else {
        return;
    };
    match core.first_direct_told(&who).await {
        Ok(true) => {}
        Ok(false) => return,
        Err(e) => {
            tracing::warn!(error = %e, %platform, "first private message: not recorded");
            return;
        }
    }
    let name = match core.member_names(tenant, &[*user]).await {
        Ok(names) => names.get(user).cloned(),
        Err(e) => {
            tracing::debug!(error = %e, "first private message: name not read");
            None
        }
    }
    .unwrap_or_else(|| platform_user_id.clone());
    let lang = tenant.language;
    let notice = say::line(
        lang,
        "chat-first-direct",
        Args::new(),
        vec![("name", strong(name))],
    );
    let rooms = match core.chat_targets(tenant.id, platform, true, &[]).await {
        Ok(rooms) => rooms,
        Err(e) => {
            tracing::warn!(error = %e, "first private message: rooms not read");
            return;
        }
    };
    // Stable per person: a platform that deduplicates by transaction id sends it once.
    let txn = format!(
        "told-{}",
        stable_hash(&format!("{platform}|{platform_user_id}"))
    );
    for room in rooms {
        if let Err(e) = sink.send(&room, &notice, &txn).await {
            tracing::warn!(error = %e, %platform, "first private message: room not told");
        }
    }
}
