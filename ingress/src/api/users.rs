//! `/users` and `/users/{id}`: the people who talk to mnemo.

use chrono::{DateTime, Utc};
use mnemo_shared::store::entities::user;
use mnemo_shared::store::users;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use uuid::Uuid;

use super::auth::BearerAuth;
use super::{RestTags, decode_cursor, next_page_cursor, resolve_user};
use crate::problem::ApiError;
use crate::state::AppState;

#[derive(Debug, Clone, Object)]
pub struct User {
    pub id: Uuid,
    /// E.164.
    pub phone: String,
    #[oai(nullable)]
    pub wa_id: Option<String>,
    #[oai(nullable)]
    pub display_name: Option<String>,
    /// IANA zone used for time phrases.
    pub timezone: String,
    pub created_at: DateTime<Utc>,
    #[oai(nullable)]
    pub last_inbound_at: Option<DateTime<Utc>>,
}

impl From<user::Model> for User {
    fn from(u: user::Model) -> Self {
        User {
            id: u.id,
            phone: u.phone,
            wa_id: u.wa_id,
            display_name: u.display_name,
            timezone: u.timezone,
            created_at: u.created_at,
            last_inbound_at: u.last_inbound_at,
        }
    }
}

/// A user with their totals.
#[derive(Debug, Clone, Object)]
pub struct UserDetail {
    #[oai(flatten)]
    pub user: User,
    pub interactions: i64,
    pub memories: i64,
}

#[derive(Debug, Clone, Object)]
pub struct UserPage {
    /// Newest first.
    pub items: Vec<User>,
    /// Pass as `cursor` for the next page; null on the last page.
    #[oai(nullable)]
    pub next_cursor: Option<String>,
}

pub struct UsersApi {
    pub state: AppState,
}

#[OpenApi(tag = "RestTags::Users")]
impl UsersApi {
    /// List users
    ///
    /// Newest first, with a keyset cursor.
    #[oai(path = "/users", method = "get", operation_id = "list_users")]
    async fn list(
        &self,
        _auth: BearerAuth,
        /// Page size (1–200, default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))]
        limit: Query<Option<u32>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> Result<Json<UserPage>, ApiError> {
        let db = &self.state.db;
        let limit = limit.0.unwrap_or(50) as usize;
        let after = cursor.0.as_deref().map(decode_cursor).transpose()?;
        let mut rows = users::page(db, after, (limit + 1) as i64).await?;
        let next_cursor = next_page_cursor(&mut rows, limit, |u| (u.created_at, u.id));
        Ok(Json(UserPage { items: rows.into_iter().map(User::from).collect(), next_cursor }))
    }

    /// Get a user
    ///
    /// By user id or E.164 number, with their interaction and memory totals.
    #[oai(path = "/users/:id", method = "get", operation_id = "get_user")]
    async fn get(
        &self,
        _auth: BearerAuth,
        /// A user id or an E.164 number.
        #[oai(example = "super::example_user_path")]
        id: Path<String>,
    ) -> Result<Json<UserDetail>, ApiError> {
        let db = &self.state.db;
        let u = resolve_user(db, &id.0).await?;
        let totals = users::totals(db, u.id)
            .await?
            .ok_or_else(|| ApiError::Internal("no totals row".into()))?;
        Ok(Json(UserDetail {
            interactions: totals.interactions,
            memories: totals.memories,
            user: u.into(),
        }))
    }

    /// Forget everything of a user's
    ///
    /// Deletes their memories (here and in Mem0), reminders and media references; an object
    /// no one references any more is removed from the store. Their messages stay as emptied
    /// rows so analytics keep counting them. Running it again changes nothing.
    #[oai(path = "/users/:id", method = "delete", operation_id = "forget_user")]
    async fn forget(
        &self,
        _auth: BearerAuth,
        /// A user id or an E.164 number.
        #[oai(example = "super::example_user_path")]
        id: Path<String>,
    ) -> Result<super::ownership::ForgetResponse, ApiError> {
        let u = resolve_user(&self.state.db, &id.0).await?;
        mnemo_shared::ownership::forget::forget_everything(
            &self.state.db,
            &self.state.engine,
            &self.state.media,
            u.id,
        )
        .await
        .map_err(|e| match e {
            mnemo_shared::ownership::forget::ForgetError::Engine(e) => {
                ApiError::Unavailable(format!("the memory engine could not delete: {e}"))
            }
            mnemo_shared::ownership::forget::ForgetError::Db(e) => e.into(),
        })?;
        Ok(super::ownership::ForgetResponse::Forgotten)
    }
}
