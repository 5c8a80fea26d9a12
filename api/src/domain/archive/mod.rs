//! An org's data as one self-contained, verifiable file, so a community can leave with it
//! (`coinsence org export`) and arrive elsewhere (`coinsence org import`).
//!
//! The format is JSON lines, chosen so the archive needs no dependency beyond the JSON and SHA-256
//! the service already uses, stays readable with standard tools (`head`, `jq`), and streams (one
//! row a line; compress it with any tool). Version 1:
//!
//! - line 1, the manifest: `{"format": "coinsence-org-archive", "version": 1, "exported_at",
//!   "origin", "org": {"slug", "name"}, "migrations": {"control", "tenant"}, "parts": [{"name",
//!   "rows", "sha256"}, ...]}`. `migrations` are the highest applied versions; each part's
//!   checksum is SHA-256 over its row lines, each with its `\n`.
//! - then each part in the manifest's order: a line `{"part": "<name>"}`, then its rows, one JSON
//!   object a line. `control.*` parts are the org's rows in the control plane (the tenant row,
//!   its members' users without credentials, memberships with their roles, chat identities and
//!   room bindings); `org.<table>` parts are every table of the org's schema (the journal, its
//!   seals, rules and settings included), in an order that loads without breaking a foreign key,
//!   each row as PostgreSQL's `to_jsonb` gives it.
//!
//! People are matched on import, not copied blindly: a user with the same email in the receiving
//! instance is that user, and a user found by a chat identity is that person. A person new there
//! keeps their id if it is free. Every reference to a person in the org's tables is translated,
//! except in the journal: its rows are sealed (the seal hashes cover the actor and the idempotency
//! key), so they are kept byte for byte, and their actor ids and key scopes are those of the
//! instance that wrote them.
//!
//! Password hashes and API tokens are never exported: an archive is the community's data, not
//! its members' credentials. People log in again where the org arrives (chat `/link`, or a new
//! password).

mod export;
mod format;
mod import;

pub use export::{ExportSummary, export_org};
pub use format::{FORMAT, Manifest, ManifestOrg, Migrations, PartSum, VERSION};
pub use import::{ImportSummary, import_org};

use std::path::Path;

use crate::core::Core;
use crate::domain::orgs::Member;
use crate::domain::tenancy::OrgSlug;
use crate::error::Result;

impl Core {
    /// Writes the archive of the org `slug` to `out`: `coinsence org export` (the operator).
    pub async fn export_org(&self, slug: &OrgSlug, out: &Path) -> Result<ExportSummary> {
        export_org(&self.pool, slug, out).await
    }

    /// The same archive of `admin`'s own org, for the portal's export button. Only an admin
    /// may take it: it holds everything of the org, its history key included.
    pub async fn export_own_org(&self, admin: &Member, out: &Path) -> Result<ExportSummary> {
        admin.require_admin()?;
        self.export_org(&admin.tenant.slug, out).await
    }

    /// [`import_org`] on this core's database (for edges, which hold no pool).
    pub async fn import_org(
        &self,
        path: &Path,
        new_slug: Option<OrgSlug>,
    ) -> Result<ImportSummary> {
        import_org(&self.pool, path, new_slug).await
    }
}
