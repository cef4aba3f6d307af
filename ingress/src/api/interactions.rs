//! `/interactions/recent`: the latest messages in both directions, newest first.

use mnemo_shared::store::interactions;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::auth::BearerAuth;
use super::{Interaction, RestTags, example_user, interactions_out, resolve_optional_user};
use crate::problem::ApiError;
use crate::state::AppState;

#[derive(Debug, Clone, Object)]
pub struct InteractionList {
    /// Newest first, inbound and outbound.
    pub items: Vec<Interaction>,
}

pub struct InteractionsApi {
    pub state: AppState,
}

#[OpenApi(tag = "RestTags::Interactions")]
impl InteractionsApi {
    /// Recent interactions
    ///
    /// The latest messages, inbound and outbound, newest first (by `occurred_at`), with their
    /// attachments. For one user, or everyone when `user` is omitted.
    #[oai(path = "/interactions/recent", method = "get", operation_id = "recent_interactions")]
    async fn recent(
        &self,
        _auth: BearerAuth,
        /// A user id or an E.164 number; all users when omitted.
        #[oai(example = "example_user")]
        user: Query<Option<String>>,
        /// How many (1–100, default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<u32>>,
    ) -> Result<Json<InteractionList>, ApiError> {
        let db = &self.state.db;
        let user = resolve_optional_user(db, user.0.as_deref()).await?;
        let limit = limit.0.unwrap_or(20) as i64;
        let rows = interactions::recent(db, user.map(|u| u.id), limit).await?;
        Ok(Json(InteractionList { items: interactions_out(db, rows).await? }))
    }
}
