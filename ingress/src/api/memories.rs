//! `/memories`: create (text inline → 201, media queued for the worker → 202), semantic search,
//! keyset-paginated listing from our database, read and delete.
//!
//! A text memory is written in ONE transaction (its source interaction, already `processed`,
//! and the memory row), then indexed by the memory engine. A media memory is recorded exactly
//! like a WhatsApp message (raw `MediaUrl0`/`MediaContentType0`; uploaded bytes as a `data:`
//! URL, see `mnemo_shared::domain::api_submission`) and the same `ProcessMessage` job is enqueued; a
//! failed enqueue is left to the sweeper, as for the webhook.

use chrono::{DateTime, SubsecRound, Utc};
use mnemo_shared::domain::api_submission;
use mnemo_shared::jobs::ProcessMessage;
use mnemo_shared::ownership::forget;
use mnemo_shared::store::entities::memory;
use mnemo_shared::store::interactions::{self, ApiInbound};
use mnemo_shared::store::{memories, memory_versions, ownership};
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::{Example, ParseFromJSON, ToJSON};
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use serde_json::json;
use tracing::{info, warn};
use uuid::Uuid;

use super::auth::BearerAuth;
use super::memory_body::{MemoryBody, Staged};
use super::range::{TimeRange, requested_range};
use super::{
    Interaction, Memory, RestTags, decode_cursor, example_user, interactions_out, memories_out,
    next_page_cursor, resolve_optional_user, resolve_user, user_zone,
};
use crate::api::idempotency::{self, Begin};
use crate::problem::ApiError;
use crate::state::AppState;

pub const MAX_TEXT_CHARS: usize = 10_000;
pub const MAX_LABELS: usize = 20;
pub const MAX_LABEL_CHARS: usize = 64;
pub const MAX_URL_CHARS: usize = 2048;
/// Kinds a memory can have (`kind` filter of the listing).
pub const KINDS: &[&str] = &["text", "image", "audio", "video", "document", "location"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, serde::Deserialize)]
#[oai(rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum NewMemoryKind {
    Text,
    Image,
    Audio,
}

impl NewMemoryKind {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            NewMemoryKind::Text => "text",
            NewMemoryKind::Image => "image",
            NewMemoryKind::Audio => "audio",
        }
    }
}

/// A memory to keep. `text` for a note; `media_url` or `media_base64` (with `content_type`) for
/// a photo or voice note, whose `text` is then its caption.
#[derive(Debug, Clone, Object)]
#[oai(example)]
pub struct NewMemory {
    /// The user: a user id or an E.164 number (`+14155550123`, `whatsapp:+14155550123`).
    pub user: String,
    pub kind: NewMemoryKind,
    /// The note (kind `text`, required) or a caption (media).
    #[oai(nullable)]
    pub text: Option<String>,
    /// An http(s) URL the worker downloads the media from.
    #[oai(nullable)]
    pub media_url: Option<String>,
    /// The media bytes, base64 (standard alphabet; a `data:…;base64,` prefix is accepted).
    #[oai(nullable)]
    pub media_base64: Option<String>,
    /// The media's MIME type (`image/…` for images, `audio/…` for audio); required with
    /// `media_base64` unless the bytes are a recognisable JPEG/PNG/GIF/WebP/Ogg/MP3/WAV.
    #[oai(nullable)]
    pub content_type: Option<String>,
    /// Free labels, e.g. `["food", "family"]` (at most 20, each 1–64 characters).
    #[oai(nullable)]
    pub labels: Option<Vec<String>>,
    /// When it happened (RFC 3339); defaults to now.
    #[oai(nullable)]
    pub occurred_at: Option<DateTime<Utc>>,
}

impl Example for NewMemory {
    fn example() -> Self {
        NewMemory {
            user: "+14155550123".into(),
            kind: NewMemoryKind::Text,
            text: Some("Dinner plan: pasta with Anna on Friday".into()),
            media_url: None,
            media_base64: None,
            content_type: None,
            labels: Some(vec!["food".into()]),
            occurred_at: None,
        }
    }
}

/// A media memory accepted for processing by the worker.
#[derive(Debug, Clone, Object)]
#[oai(example)]
pub struct Queued {
    pub interaction_id: Uuid,
    /// `received`: the worker will store the media and create the memory.
    pub status: String,
}

impl Example for Queued {
    fn example() -> Self {
        Queued {
            interaction_id: Uuid::parse_str("019aa5c0-0000-7000-8000-000000000003")
                .unwrap_or_default(),
            status: "received".into(),
        }
    }
}

#[derive(ApiResponse)]
pub enum CreateResponse {
    /// Stored (text): the memory.
    #[oai(status = 201)]
    Created(Json<Box<Memory>>),
    /// Queued (media): the worker stores the media and creates the memory.
    #[oai(status = 202)]
    Accepted(Json<Queued>),
}

impl CreateResponse {
    fn status(&self) -> u16 {
        match self {
            CreateResponse::Created(_) => 201,
            CreateResponse::Accepted(_) => 202,
        }
    }

    fn body(&self) -> String {
        match self {
            CreateResponse::Created(m) => m.0.to_json_string(),
            CreateResponse::Accepted(q) => q.0.to_json_string(),
        }
    }

    fn replay(status: u16, body: &str) -> Result<Self, ApiError> {
        let value: serde_json::Value = serde_json::from_str(body)
            .map_err(|e| ApiError::Internal(format!("stored response unreadable: {e}")))?;
        fn unreadable<T: poem_openapi::types::Type>(
            e: poem_openapi::types::ParseError<T>,
        ) -> ApiError {
            ApiError::Internal(format!("stored response unreadable: {}", e.into_message()))
        }
        Ok(match status {
            201 => CreateResponse::Created(Json(Box::new(
                Memory::parse_from_json(Some(value)).map_err(unreadable)?,
            ))),
            _ => CreateResponse::Accepted(Json(
                Queued::parse_from_json(Some(value)).map_err(unreadable)?,
            )),
        })
    }
}

/// One search match.
#[derive(Debug, Clone, Object)]
pub struct SearchHit {
    /// Relevance, higher is better: the reciprocal-rank fusion of the retrievers that found it
    /// (0 when a question without topic words lists its time range).
    pub score: f64,
    /// The retrievers that found it: `text` (full-text) and/or `semantic` (vectors or Mem0).
    pub matched: Vec<String>,
    pub memory: Memory,
    /// The message the memory came from (null if it was deleted).
    #[oai(nullable)]
    pub interaction: Option<Interaction>,
}

#[derive(Debug, Clone, Object)]
pub struct SearchResult {
    pub query: String,
    /// The time range searched, when one was given.
    #[oai(nullable)]
    pub range: Option<TimeRange>,
    pub items: Vec<SearchHit>,
}

#[derive(Debug, Clone, Object)]
pub struct MemoryPage {
    /// Newest first.
    pub items: Vec<Memory>,
    /// Pass as `cursor` for the next page; null on the last page.
    #[oai(nullable)]
    pub next_cursor: Option<String>,
}

/// An earlier text of a memory, replaced by a correction (a reply to it on WhatsApp).
#[derive(Debug, Clone, Object)]
pub struct MemoryVersion {
    pub text: String,
    /// When the correction replaced it.
    pub replaced_at: DateTime<Utc>,
}

/// A memory, with the texts it had before it was corrected.
#[derive(Debug, Clone, Object)]
pub struct MemoryDetail {
    #[oai(flatten)]
    pub memory: Memory,
    /// Earlier texts, oldest first; empty when it was never corrected.
    pub versions: Vec<MemoryVersion>,
}

#[derive(ApiResponse)]
pub enum DeleteResponse {
    /// Deleted (from our database and from the memory engine).
    #[oai(status = 204)]
    Deleted,
}

pub struct MemoriesApi {
    pub state: AppState,
}

fn now_micros() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

#[OpenApi(tag = "RestTags::Memories")]
impl MemoriesApi {
    /// Create a memory
    ///
    /// A text note is stored and indexed at once (`201` with the memory). A photo or voice note
    /// (`media_url` or `media_base64`) is recorded and processed by the worker exactly like one
    /// sent on WhatsApp (`202` with the interaction id). With an `Idempotency-Key`, a retry with
    /// the same body returns the first response; the same key with another body is a `422`.
    #[oai(path = "/memories", method = "post", operation_id = "create_memory")]
    async fn create(
        &self,
        _auth: BearerAuth,
        /// Makes retries safe: the first response is returned again for the same key and body.
        #[oai(name = "Idempotency-Key")]
        idempotency_key: Header<Option<String>>,
        body: MemoryBody,
    ) -> Result<CreateResponse, ApiError> {
        let Some(key) = idempotency_key.0 else {
            return create_memory(&self.state, body.value, body.upload).await;
        };
        idempotency::validate_key(&key)?;
        match idempotency::begin(&self.state.db, &key, &body.fingerprint).await? {
            Begin::Proceed => match create_memory(&self.state, body.value, body.upload).await {
                Ok(resp) => {
                    idempotency::complete(&self.state.db, &key, resp.status(), &resp.body())
                        .await?;
                    Ok(resp)
                }
                Err(e) => {
                    idempotency::release(&self.state.db, &key).await;
                    Err(e)
                }
            },
            Begin::Replay { status, body } => CreateResponse::replay(status, &body),
            Begin::Mismatch => Err(ApiError::Unprocessable(
                "this Idempotency-Key was used with a different request body".into(),
            )),
            Begin::InProgress => Err(ApiError::Conflict(
                "a request with this Idempotency-Key is still in progress; retry shortly".into(),
            )),
        }
    }

    /// Search memories
    ///
    /// Hybrid search over one user's memories — full-text and semantic (local vectors or
    /// Mem0), fused by reciprocal rank — limited to
    /// a time range when `range` (a phrase such as `last week`, in the user's zone) or
    /// `start`/`end` is given, enriched from our database.
    #[oai(path = "/memories", method = "get", operation_id = "search_memories")]
    #[allow(clippy::too_many_arguments)]
    async fn search(
        &self,
        _auth: BearerAuth,
        /// A user id or an E.164 number.
        #[oai(example = "super::example_user_path")]
        user: Query<String>,
        /// What to look for, in the user's words.
        #[oai(example = "example_query")]
        query: Query<String>,
        /// A time phrase: `today`, `yesterday`, `this week`, `last week`, `this month`,
        /// `last month`, `this year`, `last year`, `last N days|weeks|months`.
        range: Query<Option<String>>,
        /// Start of an explicit range (RFC 3339, inclusive).
        start: Query<Option<DateTime<Utc>>>,
        /// End of an explicit range (RFC 3339, exclusive).
        end: Query<Option<DateTime<Utc>>>,
        /// At most this many matches (1–50, default 10).
        #[oai(validator(minimum(value = "1"), maximum(value = "50")))]
        limit: Query<Option<u32>>,
    ) -> Result<Json<SearchResult>, ApiError> {
        let db = &self.state.db;
        let user = resolve_user(db, &user.0).await?;
        let q = query.0.trim().to_string();
        if q.is_empty() {
            return Err(ApiError::Unprocessable("`query` must not be empty".into()));
        }
        let tz = user_zone(&user, self.state.settings.default_timezone);
        let range = requested_range(range.0.as_deref(), start.0, end.0, tz, Utc::now())?;
        let limit = limit.0.unwrap_or(10) as u64;
        let hits = self
            .state
            .engine
            .search(db, user.id, &q, range.as_ref().map(TimeRange::bounds), limit)
            .await
            .map_err(|e| {
                warn!(error = %e, "memory search failed");
                ApiError::Unavailable(format!("the memory engine is unavailable: {e}"))
            })?;
        let ids: Vec<Uuid> = hits.iter().map(|h| h.memory_id).collect();
        let rows = memories::of_user(db, user.id, ids).await?;
        let memories = memories_out(db, rows).await?;
        let interaction_ids: Vec<Uuid> = memories.iter().filter_map(|m| m.interaction_id).collect();
        let sources = interactions::of_user(db, user.id, interaction_ids).await?;
        let interactions = interactions_out(db, sources).await?;
        let mut items = Vec::with_capacity(hits.len());
        for hit in hits {
            let Some(memory) = memories.iter().find(|m| m.id == hit.memory_id).cloned() else {
                continue;
            };
            let interaction = memory
                .interaction_id
                .and_then(|iid| interactions.iter().find(|i| i.id == iid).cloned());
            items.push(SearchHit {
                score: hit.score,
                matched: hit.matched.iter().map(|m| m.to_string()).collect(),
                memory,
                interaction,
            });
        }
        Ok(Json(SearchResult { query: q, range, items }))
    }

    /// List memories
    ///
    /// From our database, newest first (`occurred_at`, then id), with a keyset cursor: pages
    /// neither skip nor repeat rows while new memories arrive. Optional filters: `user`, `kind`,
    /// and a time range (`range` phrase or `start`/`end`).
    #[oai(path = "/memories/list", method = "get", operation_id = "list_memories")]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        _auth: BearerAuth,
        /// A user id or an E.164 number; all users when omitted.
        #[oai(example = "example_user")]
        user: Query<Option<String>>,
        /// `text`, `image`, `audio`, `video`, `document` or `location`.
        kind: Query<Option<String>>,
        /// A time phrase such as `last week` (in the user's zone).
        range: Query<Option<String>>,
        /// Start of an explicit range (RFC 3339, inclusive).
        start: Query<Option<DateTime<Utc>>>,
        /// End of an explicit range (RFC 3339, exclusive).
        end: Query<Option<DateTime<Utc>>>,
        /// Page size (1–100, default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<u32>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> Result<Json<MemoryPage>, ApiError> {
        let db = &self.state.db;
        let user = resolve_optional_user(db, user.0.as_deref()).await?;
        if let Some(k) = kind.0.as_deref()
            && !KINDS.contains(&k)
        {
            return Err(ApiError::Unprocessable(format!(
                "`kind` must be one of {}",
                KINDS.join(", ")
            )));
        }
        let default = self.state.settings.default_timezone;
        let tz = user.as_ref().map_or(default, |u| user_zone(u, default));
        let range = requested_range(range.0.as_deref(), start.0, end.0, tz, Utc::now())?;
        let after = cursor.0.as_deref().map(decode_cursor).transpose()?;
        let limit = limit.0.unwrap_or(20) as usize;

        let filter = memories::Filter {
            user_id: user.map(|u| u.id),
            kind: kind.0,
            range: range.as_ref().map(TimeRange::bounds),
            after,
        };
        let mut rows = memories::page(db, &filter, (limit + 1) as i64).await?;
        let next_cursor = next_page_cursor(&mut rows, limit, |m| (m.occurred_at, m.id));
        Ok(Json(MemoryPage { items: memories_out(db, rows).await?, next_cursor }))
    }

    /// Get a memory
    ///
    /// With `versions`: the texts it had before each correction (a reply to it on WhatsApp),
    /// oldest first; empty when it was never corrected.
    #[oai(path = "/memories/:id", method = "get", operation_id = "get_memory")]
    async fn get(
        &self,
        _auth: BearerAuth,
        /// The memory id.
        id: Path<Uuid>,
        /// When given, the memory must belong to this user (a user id or an E.164 number).
        user: Query<Option<String>>,
    ) -> Result<Json<MemoryDetail>, ApiError> {
        let m = find_memory(&self.state, id.0, user.0.as_deref()).await?;
        let versions = memory_versions::of_memory(&self.state.db, m.id)
            .await?
            .into_iter()
            .map(|v| MemoryVersion { text: v.text, replaced_at: v.replaced_at })
            .collect();
        let mut out = memories_out(&self.state.db, vec![m]).await?;
        Ok(Json(MemoryDetail { memory: out.remove(0), versions }))
    }

    /// Delete a memory
    ///
    /// Removes it from the memory engine (Mem0) and from our database. The message it came
    /// from stays in the interaction history.
    #[oai(path = "/memories/:id", method = "delete", operation_id = "delete_memory")]
    async fn delete(
        &self,
        _auth: BearerAuth,
        /// The memory id.
        id: Path<Uuid>,
        /// When given, the memory must belong to this user (a user id or an E.164 number).
        user: Query<Option<String>>,
    ) -> Result<DeleteResponse, ApiError> {
        let m = find_memory(&self.state, id.0, user.0.as_deref()).await?;
        self.state.engine.forget(&m).await.map_err(|e| {
            warn!(memory_id = %m.id, error = %e, "memory engine delete failed");
            ApiError::Unavailable(format!("the memory engine could not delete it: {e}"))
        })?;
        if let Some(done) = ownership::delete_memory(&self.state.db, m.user_id, m.id).await? {
            forget::remove_unreferenced(&self.state.media, &done.orphaned_keys).await;
        }
        info!(memory_id = %m.id, "memory deleted through the API");
        Ok(DeleteResponse::Deleted)
    }
}

fn example_query() -> String {
    "what did I plan for dinner".into()
}

async fn find_memory(
    state: &AppState,
    id: Uuid,
    user: Option<&str>,
) -> Result<memory::Model, ApiError> {
    let owner = resolve_optional_user(&state.db, user).await?;
    memories::find(&state.db, id, owner.map(|u| u.id))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no memory {id}")))
}

/// What a valid request asks for.
struct Checked {
    text: String,
    labels: Vec<String>,
    /// A `media_url` to download and its content type (uploads arrive staged instead).
    media_url: Option<(String, String)>,
}

/// Checks the fields of a request; `upload` tells whether `media_base64` was given (its bytes
/// are checked while they are decoded, `memory_body::stage`).
pub(super) fn check_fields(req: &NewMemory, upload: bool) -> Result<(), ApiError> {
    check(req, upload).map(|_| ())
}

fn check(req: &NewMemory, upload: bool) -> Result<Checked, ApiError> {
    let text = req.text.clone().unwrap_or_default();
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(ApiError::Unprocessable(format!(
            "`text` is longer than {MAX_TEXT_CHARS} characters"
        )));
    }
    let mut labels: Vec<String> = Vec::new();
    for l in req.labels.iter().flatten() {
        let l = l.trim();
        if l.is_empty() || l.chars().count() > MAX_LABEL_CHARS || l.chars().any(char::is_control) {
            return Err(ApiError::Unprocessable(format!(
                "each label must be 1–{MAX_LABEL_CHARS} printable characters"
            )));
        }
        if !labels.iter().any(|x| x == l) {
            labels.push(l.to_string());
        }
    }
    if labels.len() > MAX_LABELS {
        return Err(ApiError::Unprocessable(format!("at most {MAX_LABELS} labels")));
    }
    let media_url = match (req.kind, &req.media_url, upload) {
        (NewMemoryKind::Text, None, false) => {
            if text.trim().is_empty() {
                return Err(ApiError::Unprocessable(
                    "a text memory needs a non-empty `text`".into(),
                ));
            }
            None
        }
        (NewMemoryKind::Text, _, _) => {
            return Err(ApiError::Unprocessable(
                "a text memory takes no media; use kind image or audio".into(),
            ));
        }
        (_, Some(_), true) => {
            return Err(ApiError::Unprocessable(
                "give either `media_url` or `media_base64`, not both".into(),
            ));
        }
        (_, None, false) => {
            return Err(ApiError::Unprocessable(format!(
                "a {} memory needs `media_url` or `media_base64`",
                req.kind.as_str()
            )));
        }
        (kind, Some(url), false) => {
            let parsed = url::Url::parse(url).ok().filter(|u| {
                matches!(u.scheme(), "http" | "https")
                    && u.host_str().is_some()
                    && url.len() <= MAX_URL_CHARS
            });
            if parsed.is_none() {
                return Err(ApiError::Unprocessable(format!(
                    "`media_url` must be an http(s) URL of at most {MAX_URL_CHARS} characters, \
                     or a data: URL"
                )));
            }
            let ct = match &req.content_type {
                Some(ct) => checked_content_type(kind, ct)?,
                None => default_content_type(kind).to_string(),
            };
            Some((url.clone(), ct))
        }
        (_, None, true) => None,
    };
    Ok(Checked { text, labels, media_url })
}

fn default_content_type(kind: NewMemoryKind) -> &'static str {
    match kind {
        NewMemoryKind::Audio => "audio/ogg",
        _ => "image/jpeg",
    }
}

pub(super) fn checked_content_type(kind: NewMemoryKind, ct: &str) -> Result<String, ApiError> {
    let ct = ct.trim().to_ascii_lowercase();
    let essence = ct.split(';').next().unwrap_or("").trim();
    let (top, sub) = essence.split_once('/').unwrap_or(("", ""));
    let token = |s: &str| {
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
    };
    if top != kind.as_str() || !token(sub) || ct.len() > 127 {
        return Err(ApiError::Unprocessable(format!(
            "`content_type` must be an {}/… MIME type for a {} memory",
            kind.as_str(),
            kind.as_str()
        )));
    }
    Ok(ct)
}

/// The type of a few common formats from their first bytes.
pub(super) fn sniff(b: &[u8]) -> Option<&'static str> {
    Some(match b {
        [0xFF, 0xD8, 0xFF, ..] => "image/jpeg",
        [0x89, b'P', b'N', b'G', ..] => "image/png",
        [b'G', b'I', b'F', b'8', ..] => "image/gif",
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => "image/webp",
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'A', b'V', b'E', ..] => "audio/wav",
        [b'O', b'g', b'g', b'S', ..] => "audio/ogg",
        [b'I', b'D', b'3', ..] | [0xFF, 0xFB, ..] => "audio/mpeg",
        _ => return None,
    })
}

async fn create_memory(
    state: &AppState,
    req: NewMemory,
    upload: Option<Staged>,
) -> Result<CreateResponse, ApiError> {
    let c = check(&req, upload.is_some())?;
    let db = &state.db;
    let user = resolve_user(db, &req.user).await?;
    let now = now_micros();
    let occurred_at = req.occurred_at.map(|t| t.trunc_subsecs(6)).unwrap_or(now);
    let interaction_id = Uuid::now_v7();
    let message_sid = api_submission::message_sid(interaction_id);
    let mut raw = json!({
        api_submission::SOURCE_KEY: api_submission::SOURCE_API,
        "Body": c.text,
        api_submission::LABELS_KEY: c.labels,
    });

    let media = match (c.media_url, upload) {
        (Some(url), _) => Some(url),
        (None, Some(staged)) => {
            // Stored once under its hash now, like a download; the worker links and counts it
            // as it does WhatsApp media. `raw` keeps the reference, never the bytes.
            let key = mnemo_shared::media::storage_key(&staged.sha256);
            state.media.put(&key, staged.file.path(), &staged.content_type).await.map_err(|e| {
                tracing::error!(error = %e, "media store write failed");
                ApiError::Unavailable("the media store is unavailable; retry shortly".into())
            })?;
            info!(sha256 = %staged.sha256, size = staged.size, "REST upload stored");
            Some((api_submission::stored_ref(&staged.sha256), staged.content_type.clone()))
        }
        (None, None) => None,
    };
    let Some((media_url, content_type)) = media else {
        let memory_id = Uuid::now_v7();
        let source = ApiInbound {
            id: interaction_id,
            user_id: user.id,
            message_sid,
            kind: "text".into(),
            body: c.text,
            raw,
            occurred_at,
            now,
        };
        let new = memories::NewTextMemory {
            id: memory_id,
            labels: c.labels,
            engine: state.engine.name().into(),
        };
        memories::create_text(db, &source, &new).await?;
        let mem = memories::find(db, memory_id, None)
            .await?
            .ok_or_else(|| ApiError::Internal("memory vanished".into()))?;
        if let Err(e) = state.engine.index(db, &mem, None).await {
            // Our row is the source of truth; listing and the local engine already see it.
            warn!(memory_id = %memory_id, error = %e, "memory stored but not indexed by the engine");
        }
        let mem = memories::find(db, memory_id, None).await?.unwrap_or(mem);
        info!(memory_id = %memory_id, "text memory created through the API");
        let mut out = memories_out(db, vec![mem]).await?;
        return Ok(CreateResponse::Created(Json(Box::new(out.remove(0)))));
    };

    raw["NumMedia"] = json!("1");
    raw["MediaUrl0"] = json!(media_url);
    raw["MediaContentType0"] = json!(content_type);
    interactions::record_received(
        db,
        &ApiInbound {
            id: interaction_id,
            user_id: user.id,
            message_sid: message_sid.clone(),
            kind: req.kind.as_str().into(),
            body: c.text,
            raw,
            occurred_at,
            now,
        },
    )
    .await?;
    let job = ProcessMessage { interaction_id, message_sid: message_sid.clone() };
    if let Err(e) = state.queue.push(job, &message_sid).await {
        warn!(%message_sid, error = %e, "enqueue failed; left to the sweeper");
    } else {
        info!(%message_sid, kind = req.kind.as_str(), "media memory queued through the API");
    }
    Ok(CreateResponse::Accepted(Json(Queued { interaction_id, status: "received".into() })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(kind: NewMemoryKind) -> NewMemory {
        NewMemory {
            user: "+14155550123".into(),
            kind,
            text: None,
            media_url: None,
            media_base64: None,
            content_type: None,
            labels: None,
            occurred_at: None,
        }
    }

    #[test]
    fn validation() {
        let mut r = req(NewMemoryKind::Text);
        assert!(check(&r, false).is_err());
        r.text = Some("note".into());
        r.labels = Some(vec![" a ".into(), "a".into(), "b".into()]);
        let c = check(&r, false).unwrap();
        assert_eq!(c.labels, vec!["a", "b"]);
        r.labels = Some(vec!["".into()]);
        assert!(check(&r, false).is_err());
        r.labels = Some((0..21).map(|i| i.to_string()).collect());
        assert!(check(&r, false).is_err());
        r.labels = None;
        r.media_url = Some("https://x.test/a.jpg".into());
        assert!(check(&r, false).is_err());
        r.media_url = None;
        assert!(check(&r, true).is_err(), "a text memory takes no upload");

        let mut r = req(NewMemoryKind::Image);
        assert!(check(&r, false).is_err());
        assert!(check(&r, true).unwrap().media_url.is_none());
        r.media_url = Some("ftp://x.test/a".into());
        assert!(check(&r, false).is_err());
        r.media_url = Some("https://x.test/a.jpg".into());
        assert_eq!(check(&r, false).unwrap().media_url.unwrap().1, "image/jpeg");
        assert!(check(&r, true).is_err(), "not both");
        r.content_type = Some("audio/ogg".into());
        assert!(check(&r, false).is_err());
    }
}
