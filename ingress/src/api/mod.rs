//! The REST API (DESIGN §5), one file per resource, all on poem-openapi so `/openapi.json` and
//! `/docs` describe exactly what is served. Shared here: the response shapes of memories and
//! interactions, user resolution (`user` = a user id or an E.164 number), and opaque keyset
//! cursors.
//!
//! Every operation takes [`auth::BearerAuth`] first (401 before anything else runs) and returns
//! `Result<_, ApiError>`, whose problem+json responses are declared on every operation.

pub mod admin;
pub mod analytics;
pub mod auth;
pub mod docs;
pub mod idempotency;
pub mod interactions;
pub mod memories;
pub mod memory_body;
pub mod ownership;
pub mod range;
pub mod reminders;
pub mod small_json;
pub mod users;

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use mnemo_shared::domain::phone::UserRef;
use mnemo_shared::sea_orm::DatabaseConnection;
use mnemo_shared::store::entities::{interaction, memory, user};
use mnemo_shared::store::interaction_media;
use poem_openapi::{Object, Tags};
use uuid::Uuid;

use crate::problem::ApiError;
use crate::state::AppState;

/// The tuple of every API served under `/` and documented in `/openapi.json`; each holds the
/// application state its operations use.
pub type Apis = (
    crate::system::SystemApi,
    memories::MemoriesApi,
    interactions::InteractionsApi,
    analytics::AnalyticsApi,
    users::UsersApi,
    reminders::RemindersApi,
    admin::AdminApi,
    ownership::OwnershipApi,
    ownership::McpTokensApi,
);

pub fn apis(state: &AppState) -> Apis {
    let state = || state.clone();
    (
        crate::system::SystemApi { state: state() },
        memories::MemoriesApi { state: state() },
        interactions::InteractionsApi { state: state() },
        analytics::AnalyticsApi { state: state() },
        users::UsersApi { state: state() },
        reminders::RemindersApi { state: state() },
        admin::AdminApi { state: state() },
        ownership::OwnershipApi { state: state() },
        ownership::McpTokensApi { state: state() },
    )
}

#[derive(Tags)]
pub enum RestTags {
    /// Memories: create, search, list, read and delete.
    Memories,
    /// Messages in both directions.
    Interactions,
    /// Aggregate figures over the whole database or one user.
    Analytics,
    /// The people who talk to mnemo.
    Users,
    /// Operations: failed jobs (dead letters) and retries.
    Admin,
}

pub(crate) fn example_user() -> Option<String> {
    Some("+14155550123".to_string())
}

pub(crate) fn example_user_path() -> String {
    "+14155550123".to_string()
}

/// Finds the user named by `user`: a user id (UUID) or an E.164 number (`+…`, `whatsapp:+…`).
/// Anything else is a 422; a well-formed but unknown user a 404.
pub async fn resolve_user(db: &DatabaseConnection, given: &str) -> Result<user::Model, ApiError> {
    let who = UserRef::parse(given).map_err(|_| {
        ApiError::Unprocessable(format!(
            "`user` must be a user id or an E.164 number such as +14155550123, got {:?}",
            given.trim()
        ))
    })?;
    mnemo_shared::store::users::find(db, &who)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no user {}", given.trim())))
}

/// The zone a user's days and times are read in: their own, or `default` when theirs is not
/// a zone name.
pub fn user_zone(u: &user::Model, default: Tz) -> Tz {
    u.timezone.parse().unwrap_or(default)
}

/// Resolves an optional `user` parameter.
pub async fn resolve_optional_user(
    db: &DatabaseConnection,
    given: Option<&str>,
) -> Result<Option<user::Model>, ApiError> {
    match given {
        Some(u) => Ok(Some(resolve_user(db, u).await?)),
        None => Ok(None),
    }
}

/// A stored attachment.
#[derive(Debug, Clone, Object)]
pub struct Media {
    /// SHA-256 of the bytes (hex); null until the worker has stored them.
    #[oai(nullable)]
    pub sha256: Option<String>,
    #[oai(nullable)]
    pub content_type: Option<String>,
    #[oai(nullable)]
    pub size_bytes: Option<i64>,
    /// Where the stored object can be fetched, when the media store offers a URL.
    #[oai(nullable)]
    pub url: Option<String>,
    /// The attachment's position in its message.
    pub position: i32,
}

/// One memory (DESIGN §5).
#[derive(Debug, Clone, Object)]
#[oai(example)]
pub struct Memory {
    pub id: Uuid,
    pub user_id: Uuid,
    /// `text`, `image`, `audio`, …
    pub kind: String,
    pub text: String,
    pub labels: Vec<String>,
    pub occurred_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    #[oai(nullable)]
    pub interaction_id: Option<Uuid>,
    /// The Mem0 memory id when the Mem0 engine holds this memory.
    #[oai(nullable)]
    pub mem0_id: Option<String>,
    /// The first attachment of the source message, if any.
    #[oai(nullable)]
    pub media: Option<Media>,
}

impl poem_openapi::types::Example for Memory {
    fn example() -> Self {
        let at = DateTime::parse_from_rfc3339("2026-11-20T19:30:00Z")
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_default();
        Memory {
            id: Uuid::parse_str("019aa5c0-0000-7000-8000-000000000001").unwrap_or_default(),
            user_id: Uuid::parse_str("019aa5c0-0000-7000-8000-0000000000aa").unwrap_or_default(),
            kind: "text".into(),
            text: "Dinner plan: pasta with Anna on Friday".into(),
            labels: vec!["food".into()],
            occurred_at: at,
            created_at: at,
            interaction_id: Uuid::parse_str("019aa5c0-0000-7000-8000-000000000002").ok(),
            mem0_id: None,
            media: None,
        }
    }
}

/// One message, inbound or outbound (DESIGN §5).
#[derive(Debug, Clone, Object)]
pub struct Interaction {
    pub id: Uuid,
    pub user_id: Uuid,
    /// Twilio's MessageSid; `api:<id>` for API submissions; null for unsent replies.
    #[oai(nullable)]
    pub message_sid: Option<String>,
    /// `inbound` | `outbound`
    pub direction: String,
    pub kind: String,
    pub body: String,
    #[oai(nullable)]
    pub transcript: Option<String>,
    /// Inbound: `received`, `processing`, `processed`, `failed`. Outbound: `sending`, `sent`,
    /// `dry_run`, `delivered`, `read`, `failed`, `undelivered`.
    pub status: String,
    #[oai(nullable)]
    pub error: Option<String>,
    pub occurred_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub media: Vec<Media>,
}

pub fn interaction_out(i: interaction::Model, media: Vec<Media>) -> Interaction {
    Interaction {
        id: i.id,
        user_id: i.user_id,
        message_sid: i.message_sid,
        direction: i.direction.to_string(),
        kind: i.kind.to_string(),
        body: i.body,
        transcript: i.transcript,
        status: i.status.to_string(),
        error: i.error,
        occurred_at: i.occurred_at,
        created_at: i.created_at,
        media,
    }
}

/// The attachments of these interactions, by interaction, in position order. One query.
pub async fn media_of(
    db: &DatabaseConnection,
    interaction_ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<Media>>, ApiError> {
    let mut out: HashMap<Uuid, Vec<Media>> = HashMap::new();
    for a in interaction_media::of_interactions(db, interaction_ids).await? {
        out.entry(a.interaction_id).or_default().push(Media {
            sha256: a.sha256,
            content_type: a.object_type.or(a.link_type),
            size_bytes: a.size_bytes,
            url: None,
            position: a.position,
        });
    }
    Ok(out)
}

/// Interactions in the shape of the API, with their attachments. One extra query.
pub async fn interactions_out(
    db: &DatabaseConnection,
    rows: Vec<interaction::Model>,
) -> Result<Vec<Interaction>, ApiError> {
    let ids: Vec<Uuid> = rows.iter().map(|i| i.id).collect();
    let mut media = media_of(db, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|i| {
            let m = media.remove(&i.id).unwrap_or_default();
            interaction_out(i, m)
        })
        .collect())
}

/// Memories in the shape of the API, with their first attachment. One extra query.
pub async fn memories_out(
    db: &DatabaseConnection,
    rows: Vec<memory::Model>,
) -> Result<Vec<Memory>, ApiError> {
    let ids: Vec<Uuid> = rows.iter().filter_map(|m| m.interaction_id).collect();
    let mut media = media_of(db, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|m| {
            let first = m
                .interaction_id
                .and_then(|i| media.get_mut(&i))
                .and_then(|list| (!list.is_empty()).then(|| list.remove(0)));
            Memory {
                labels: m.label_list(),
                id: m.id,
                user_id: m.user_id,
                kind: m.kind.to_string(),
                text: m.text,
                occurred_at: m.occurred_at,
                created_at: m.created_at,
                interaction_id: m.interaction_id,
                mem0_id: m.mem0_id,
                media: first,
            }
        })
        .collect())
}

/// An opaque keyset cursor over `(time, id)`, newest first.
pub fn encode_cursor(at: DateTime<Utc>, id: Uuid) -> String {
    URL_SAFE_NO_PAD
        .encode(format!("{}|{id}", at.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)))
}

/// Cuts a page fetched with one row more than `limit` back to `limit`, and returns the cursor
/// of the next page (over the `key` of the last row kept), or `None` on the last page.
pub fn next_page_cursor<T>(
    rows: &mut Vec<T>,
    limit: usize,
    key: impl Fn(&T) -> (DateTime<Utc>, Uuid),
) -> Option<String> {
    if rows.len() <= limit {
        return None;
    }
    rows.truncate(limit);
    rows.last().map(|row| {
        let (at, id) = key(row);
        encode_cursor(at, id)
    })
}

pub fn decode_cursor(cursor: &str) -> Result<(DateTime<Utc>, Uuid), ApiError> {
    let bad = || ApiError::Unprocessable("`cursor` is not a cursor this API returned".into());
    let raw = URL_SAFE_NO_PAD.decode(cursor.trim()).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let (at, id) = text.split_once('|').ok_or_else(bad)?;
    let at = DateTime::parse_from_rfc3339(at).map_err(|_| bad())?.with_timezone(&Utc);
    let id = Uuid::parse_str(id).map_err(|_| bad())?;
    Ok((at, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let at = DateTime::from_timestamp(1_763_700_000, 123_456_789).unwrap();
        let id = Uuid::now_v7();
        assert_eq!(decode_cursor(&encode_cursor(at, id)).unwrap(), (at, id));
        for bad in ["", "x", "!!!", &URL_SAFE_NO_PAD.encode("12|nope")] {
            assert!(matches!(decode_cursor(bad), Err(ApiError::Unprocessable(_))));
        }
    }
}
