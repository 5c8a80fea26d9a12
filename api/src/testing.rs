//! Test fixtures shared by every crate's tests (the `testing` feature; never in the production
//! binary).

use crate::domain::identity::{Role, User};
use crate::domain::orgs::Member;
use crate::domain::tenancy::Tenant;

/// A member as `Core` would resolve one, for tests that act as a bot or a job would.
pub fn member(tenant: Tenant, user: User, role: Role) -> Member {
    Member { tenant, user, role }
}
