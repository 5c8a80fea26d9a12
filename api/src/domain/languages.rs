//! Who reads which language: a person's own choice and an org's default.

use super::identity::User;
use super::ids::UserId;
use super::orgs::Member;
use crate::core::Core;
use crate::error::Result;
use crate::i18n::Lang;

impl Core {
    /// A person chooses the language they read everywhere (`None`: let their platform or the
    /// org decide again). Returns the person as they are now.
    pub async fn set_user_language(&self, user: UserId, language: Option<Lang>) -> Result<User> {
        let user: User = sqlx::query_as(
            "UPDATE control.users SET language = $2 WHERE id = $1
             RETURNING id, email, display_name, language",
        )
        .bind(user)
        .bind(language)
        .fetch_one(&self.pool)
        .await?;
        // Payments remember their payers (and so their language) for a short while.
        self.payers.forget_user(user.id);
        Ok(user)
    }

    /// An admin sets the language of the org's rooms and of people whose own is not known.
    pub async fn set_org_language(&self, admin: &Member, language: Lang) -> Result<()> {
        admin.require_admin()?;
        sqlx::query("UPDATE control.tenants SET language = $2 WHERE id = $1")
            .bind(admin.tenant.id)
            .bind(language)
            .execute(&self.pool)
            .await?;
        self.payers.forget_tenant(admin.tenant.id);
        Ok(())
    }
}
