//! The org's feed: posts and comments by members, each with the platform it came from, so the
//! portal can show everything and the chat side can echo a post to the org's other rooms.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::outbox::{self, EventKind, NewEvent};
use crate::core::Core;
use crate::domain::idempotency::{Creation, IdempotencyKey};
use crate::domain::ids::{CommentId, PostId, UserId};
use crate::domain::orgs::Member;
use crate::domain::tenancy::{TenantTx, retrying};
use crate::domain::text;
use crate::domain::text_enum::text_enum;
use crate::error::{Error, Result};
use crate::refusal::Refusal;

text_enum!(
    /// Where a post or comment was written.
    Platform {
        Web => "web",
        Matrix => "matrix",
        Discord => "discord",
        Telegram => "telegram",
        Console => "console",
    }
);

/// A post or comment as written.
#[derive(Debug, Clone)]
pub struct NewPost {
    pub body: String,
    pub platform: Platform,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct PostView {
    pub id: PostId,
    pub author_user_id: UserId,
    pub author_name: String,
    pub body: String,
    #[sqlx(try_from = "String")]
    pub platform: Platform,
    pub comments: i64,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct CommentView {
    pub id: CommentId,
    pub post_id: PostId,
    pub author_user_id: UserId,
    pub author_name: String,
    pub body: String,
    #[sqlx(try_from = "String")]
    pub platform: Platform,
    pub created_at: DateTime<Utc>,
}

/// A post with its first comments, oldest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Thread {
    pub post: PostView,
    /// The first 200 comments (`THREAD_COMMENTS`).
    pub comments: Vec<CommentView>,
    /// When the post has more comments: pass as `after` to its comments list for the next page.
    pub next_after: Option<CommentId>,
}

/// How many comments a thread shows at once; the rest are paged.
pub const THREAD_COMMENTS: i64 = 200;

const BODY_MAX: usize = 5_000;

async fn posts(
    tx: &mut TenantTx,
    only: Option<PostId>,
    before: Option<PostId>,
    limit: i64,
) -> Result<Vec<PostView>> {
    Ok(sqlx::query_as(
        "SELECT p.id, p.author_user_id, m.display_name AS author_name, p.body, p.platform, p.created_at,
                (SELECT count(*) FROM comments c WHERE c.post_id = p.id) AS comments
         FROM posts p JOIN members m ON m.user_id = p.author_user_id
         WHERE ($1::bigint IS NULL OR p.id = $1) AND ($2::bigint IS NULL OR p.id < $2)
           -- The feed leaves hidden posts out; one asked for by id (a retried post's first
           -- answer) is still found.
           AND ($1::bigint IS NOT NULL OR p.hidden_at IS NULL)
         ORDER BY p.id DESC LIMIT $3",
    )
    .bind(only)
    .bind(before)
    .bind(limit)
    .fetch_all(tx.conn())
    .await?)
}

/// A post that is there to read and comment on: not hidden by a moderator.
async fn shown_post(tx: &mut TenantTx, id: PostId) -> Result<()> {
    let shown: Option<(bool,)> =
        sqlx::query_as("SELECT hidden_at IS NULL FROM posts WHERE id = $1")
            .bind(id)
            .fetch_optional(tx.conn())
            .await?;
    match shown {
        Some((true,)) => Ok(()),
        _ => Err(Error::from(Refusal::PostNotFound)),
    }
}

async fn one_post(tx: &mut TenantTx, id: PostId) -> Result<PostView> {
    posts(tx, Some(id), None, 1)
        .await?
        .pop()
        .ok_or_else(|| Error::from(Refusal::PostNotFound))
}

/// A post's comments oldest first, those after `after`, at most `limit`.
async fn comments(
    tx: &mut TenantTx,
    post: PostId,
    after: Option<CommentId>,
    limit: i64,
) -> Result<Vec<CommentView>> {
    Ok(sqlx::query_as(
        "SELECT c.id, c.post_id, c.author_user_id, m.display_name AS author_name, c.body, c.platform, c.created_at
         FROM comments c JOIN members m ON m.user_id = c.author_user_id
         WHERE c.post_id = $1 AND ($2::bigint IS NULL OR c.id > $2)
         ORDER BY c.id LIMIT $3",
    )
    .bind(post)
    .bind(after)
    .bind(limit)
    .fetch_all(tx.conn())
    .await?)
}

async fn one_comment(tx: &mut TenantTx, id: CommentId) -> Result<CommentView> {
    sqlx::query_as(
        "SELECT c.id, c.post_id, c.author_user_id, m.display_name AS author_name, c.body, c.platform, c.created_at
         FROM comments c JOIN members m ON m.user_id = c.author_user_id WHERE c.id = $1",
    )
    .bind(id)
    .fetch_optional(tx.conn())
    .await?
    .ok_or_else(|| Error::from(Refusal::CommentNotFound))
}

/// The cursor of the next page, when this one is full.
fn next_after(page: &[CommentView], limit: i64) -> Option<CommentId> {
    (i64::try_from(page.len()).ok() == Some(limit))
        .then(|| page.last().map(|c| c.id))
        .flatten()
}

impl Core {
    /// A member posts to the feed; the rooms hear of it. With a key, a retry answers the first
    /// post.
    pub async fn post(
        &self,
        member: &Member,
        new: NewPost,
        key: Option<IdempotencyKey>,
    ) -> Result<PostView> {
        let body = text::body("body", &new.body, 1, BODY_MAX)?;
        let creation = Creation::new(key.as_ref(), "post", &new);
        let (new, creation, body) = (&new, &creation, &body);
        retrying(move || async move {
            let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
            let reread = async |tx: &mut TenantTx, id| one_post(tx, PostId(id)).await;
            if let Some(first) = creation.take(&mut tx, reread).await? {
                return Ok(Some(first));
            }
            let (id,): (PostId,) =
                sqlx::query_as("INSERT INTO posts (author_user_id, body, platform) VALUES ($1, $2, $3) RETURNING id")
                    .bind(member.user.id)
                    .bind(body)
                    .bind(new.platform.as_str())
                    .fetch_one(tx.conn())
                    .await?;
            outbox::emit(
                &mut tx,
                NewEvent {
                    kind: EventKind::PostCreated,
                    payload: serde_json::json!({
                        "post_id": id,
                        "author_user_id": member.user.id,
                        "author_name": member.user.display_name,
                        "body": body,
                        "platform": new.platform,
                    }),
                    to_rooms: true,
                    to_users: Vec::new(),
                    dedup_key: format!("post:{id}:created"),
                },
            )
            .await?;
            let view = one_post(&mut tx, id).await?;
            creation.remember(&mut tx, id.0, &view).await?;
            tx.commit().await?;
            Ok(Some(view))
        })
        .await
    }

    /// The feed, newest first, paged by `before`.
    pub async fn feed(
        &self,
        member: &Member,
        before: Option<PostId>,
        limit: i64,
    ) -> Result<Vec<PostView>> {
        let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
        posts(&mut tx, None, before, limit.clamp(1, 200)).await
    }

    pub async fn thread(&self, member: &Member, id: PostId) -> Result<Thread> {
        let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
        shown_post(&mut tx, id).await?;
        let post = posts(&mut tx, Some(id), None, 1)
            .await?
            .pop()
            .ok_or_else(|| Error::from(Refusal::PostNotFound))?;
        let comments = comments(&mut tx, id, None, THREAD_COMMENTS).await?;
        let next_after = next_after(&comments, THREAD_COMMENTS);
        Ok(Thread {
            post,
            comments,
            next_after,
        })
    }

    /// A post's comments, oldest first, paged by `after` (the last id of the previous page).
    pub async fn comments(
        &self,
        member: &Member,
        post: PostId,
        after: Option<CommentId>,
        limit: i64,
    ) -> Result<Vec<CommentView>> {
        let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
        shown_post(&mut tx, post).await?;
        comments(&mut tx, post, after, limit.clamp(1, 200)).await
    }

    /// A member comments on a post. With a key, a retry answers the first comment.
    pub async fn comment(
        &self,
        member: &Member,
        post: PostId,
        new: NewPost,
        key: Option<IdempotencyKey>,
    ) -> Result<CommentView> {
        let body = text::body("body", &new.body, 1, BODY_MAX)?;
        let creation = Creation::new(key.as_ref(), "comment", &(post, &new));
        let (new, creation, body) = (&new, &creation, &body);
        retrying(move || async move {
            let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
            let reread = async |tx: &mut TenantTx, id| one_comment(tx, CommentId(id)).await;
            if let Some(first) = creation.take(&mut tx, reread).await? {
                return Ok(Some(first));
            }
            shown_post(&mut tx, post).await?;
            let (id,): (CommentId,) = sqlx::query_as(
                "INSERT INTO comments (post_id, author_user_id, body, platform) VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(post)
            .bind(member.user.id)
            .bind(body)
            .bind(new.platform.as_str())
            .fetch_one(tx.conn())
            .await?;
            let view = one_comment(&mut tx, id).await?;
            creation.remember(&mut tx, id.0, &view).await?;
            tx.commit().await?;
            Ok(Some(view))
        })
        .await
    }

    /// A moderator (an admin) hides a post: it leaves the feed and takes no more comments.
    /// Hiding it again changes nothing.
    pub async fn hide_post(&self, admin: &Member, post: PostId) -> Result<()> {
        admin.require_admin()?;
        let mut tx = TenantTx::begin(&self.pool, &admin.schema()).await?;
        let found: Option<(i64,)> = sqlx::query_as(
            "UPDATE posts SET hidden_at = coalesce(hidden_at, now()) WHERE id = $1 RETURNING id",
        )
        .bind(post)
        .fetch_optional(tx.conn())
        .await?;
        if found.is_none() {
            return Err(Error::from(Refusal::PostNotFound));
        }
        tx.commit().await?;
        Ok(())
    }
}
