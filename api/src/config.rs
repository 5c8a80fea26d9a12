//! What the core runs with. The library reads no environment: the binary builds a
//! [`CoreConfig`] from its flags (each with an environment fallback; README "Configuration"),
//! and tests take [`CoreConfig::default`] and change what they test.

pub use crate::batch::QueueLimits;
pub use crate::domain::identity::TokenTerms;
pub use crate::domain::ledger::queue::QueueConfig;
pub use crate::domain::orgs::OrgCaps;
pub use crate::domain::spare_schemas::Spares;
pub use crate::hashing::HashingConfig;

#[derive(Debug, Clone, Copy)]
pub struct CoreConfig {
    /// Transfer lanes per org, their batches, and how long orders may wait in them.
    pub queue: QueueConfig,
    /// Token and membership lookups in flight (fewer: bigger batches, fewer queries; more:
    /// less waiting).
    pub access_lookups: usize,
    /// Org schemas prepared ahead for new orgs (0: none).
    pub spare_orgs: usize,
    /// How long tokens live unused.
    pub tokens: TokenTerms,
    /// New orgs per person and address and day.
    pub org_caps: OrgCaps,
    /// Connections of the pool for the payment hot path (generic plans; see
    /// `Core::with_config`). None: as many as the main pool has.
    pub hot_pool_size: Option<u32>,
    /// Passwords hashed at once in the process.
    pub hashing: HashingConfig,
}

impl Default for CoreConfig {
    fn default() -> Self {
        Self {
            queue: QueueConfig::default(),
            access_lookups: 2,
            spare_orgs: Spares::DEFAULT,
            tokens: TokenTerms::default(),
            org_caps: OrgCaps::default(),
            hot_pool_size: None,
            hashing: HashingConfig::default(),
        }
    }
}

/// `total` database connections split between the main pool and the payment hot path's:
/// half each (the main pool takes an odd one), at least one each.
pub fn split_pool(total: u32) -> (u32, u32) {
    let hot = (total / 2).max(1);
    (total.saturating_sub(hot).max(1), hot)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pool_size_is_the_total_of_both_pools() {
        for total in 2..200 {
            let (main, hot) = split_pool(total);
            assert_eq!(main + hot, total, "{total}");
            assert!(main >= 1 && hot >= 1);
        }
        assert_eq!(split_pool(32), (16, 16));
        assert_eq!(split_pool(1), (1, 1));
    }
}
