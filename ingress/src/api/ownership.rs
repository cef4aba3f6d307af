//! Owning one's memories over REST (DESIGN §12): `GET /users/{user}/export` (a zip, streamed),
//! `POST /users/{user}/import` (that zip back, idempotent), `DELETE /users/{user}` (forget
//! everything), and `GET /export/{user_id}?exp=…&sig=…`, the signed link `/export` sends in
//! chat. The work is in `mnemo_shared::ownership`; the SQL in `mnemo_shared::store`.

use chrono_tz::Tz;
use futures::StreamExt;
use mnemo_shared::ownership::import::{ArchiveError, Limits, read_archive};
use mnemo_shared::ownership::{export, link};
use mnemo_shared::store::mcp_tokens;
use mnemo_shared::store::ownership::{ImportItem, StoredMedia, import};
use mnemo_shared::{media::storage_key, store::entities::user};
use poem::Body;
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::{Binary, Json};
use poem_openapi::{ApiResponse, Object, OpenApi};
use tokio::io::AsyncWriteExt;
use tracing::{info, warn};
use uuid::Uuid;

use super::auth::BearerAuth;
use super::{RestTags, resolve_user, user_zone};
use crate::problem::ApiError;
use crate::state::AppState;

#[derive(ApiResponse)]
pub enum ExportResponse {
    /// The archive: `memories.json`, `memories/YYYY-MM.md`, `media/<sha256>.<ext>`, streamed.
    #[oai(status = 200, content_type = "application/zip")]
    Zip(Binary<Body>, #[oai(header = "Content-Disposition")] String),
}

/// What an import did.
#[derive(Debug, Clone, Object)]
pub struct Imported {
    /// Memories created.
    pub imported: u64,
    /// Memories already there (an earlier import of the same archive, or this user's own).
    pub skipped: u64,
}

#[derive(ApiResponse)]
pub enum ForgetResponse {
    /// Everything of the user's is forgotten (memories, reminders, Mem0 memories, media
    /// references; unreferenced objects removed). The user and the count of their messages
    /// stay, emptied.
    #[oai(status = 204)]
    Forgotten,
}

/// The archive of `u` as a streamed response.
fn archive(state: &AppState, u: user::Model) -> ExportResponse {
    let tz = user_zone(&u, state.settings.default_timezone);
    let name = format!(
        "attachment; filename=\"mnemo-{}-{}.zip\"",
        u.phone.trim_start_matches('+'),
        chrono::Utc::now().format("%Y%m%d")
    );
    info!(user_id = %u.id, "export started");
    let rx = export::stream(state.db.clone(), state.media.clone(), u, tz);
    let chunks =
        futures::stream::unfold(
            rx,
            |mut rx| async move { rx.recv().await.map(|chunk| (chunk, rx)) },
        );
    ExportResponse::Zip(Binary(Body::from_bytes_stream(chunks.boxed())), name)
}

pub struct OwnershipApi {
    pub state: AppState,
}

#[OpenApi(tag = "RestTags::Users")]
impl OwnershipApi {
    /// Export a user's memories
    ///
    /// A zip, streamed as it is written: `memories.json` (every memory in full, times in UTC
    /// and in the user's zone), `memories/YYYY-MM.md` (one readable file per month of the
    /// user's zone) and `media/<sha256>.<ext>` (each attachment once).
    #[oai(path = "/users/:id/export", method = "get", operation_id = "export_user")]
    async fn export(
        &self,
        _auth: BearerAuth,
        /// A user id or an E.164 number.
        #[oai(example = "super::example_user_path")]
        id: Path<String>,
    ) -> Result<ExportResponse, ApiError> {
        let u = resolve_user(&self.state.db, &id.0).await?;
        Ok(archive(&self.state, u))
    }

    /// Import an export archive
    ///
    /// The zip `GET /users/{user}/export` makes (`application/zip`, at most `IMPORT_MAX_BYTES`).
    /// Kinds, texts, labels and times are kept; media go through the store (stored once per
    /// hash, counted); each memory gets its vector as a new one would. Importing the same
    /// archive again creates nothing. An archive that is not an export (other names, `..`,
    /// too large once decompressed, wrong JSON, media that do not match their hash) is
    /// refused whole: nothing is written. A well-formed number mnemo has not seen yet is
    /// created, with the archive's time zone.
    #[oai(path = "/users/:id/import", method = "post", operation_id = "import_user")]
    async fn import(
        &self,
        _auth: BearerAuth,
        req: &poem::Request,
        /// A user id or an E.164 number.
        #[oai(example = "super::example_user_path")]
        id: Path<String>,
        body: Binary<Body>,
    ) -> Result<Json<Imported>, ApiError> {
        let ct = req
            .header(poem::http::header::CONTENT_TYPE)
            .map(mnemo_shared::media::essence)
            .unwrap_or_default();
        if !matches!(
            ct.as_str(),
            "application/zip" | "application/x-zip-compressed" | "application/octet-stream"
        ) {
            return Err(ApiError::UnsupportedMediaType(format!(
                "send the archive as application/zip, not {ct:?}"
            )));
        }
        // A well-formed number not seen yet is created from the archive (after it is checked).
        let known = match resolve_user(&self.state.db, &id.0).await {
            Ok(u) => Some(u),
            Err(ApiError::NotFound(_)) => None,
            Err(e) => return Err(e),
        };
        let cap = self.state.settings.import_max_bytes;
        let staging = self.state.media.staging_dir();
        let unavailable = |e: std::io::Error| {
            tracing::error!(error = %e, "import staging failed");
            ApiError::Unavailable("cannot stage the archive; retry shortly".into())
        };
        tokio::fs::create_dir_all(&staging).await.map_err(unavailable)?;
        let file = tempfile::Builder::new()
            .prefix("import-zip-")
            .tempfile_in(&staging)
            .map_err(unavailable)?;
        let mut out = tokio::fs::File::from_std(file.as_file().try_clone().map_err(unavailable)?);
        let mut reader = body.0.into_async_read();
        let mut buf = vec![0u8; 64 * 1024];
        let mut size: u64 = 0;
        loop {
            let n = tokio::io::AsyncReadExt::read(&mut reader, &mut buf)
                .await
                .map_err(|e| ApiError::BadRequest(format!("reading the body: {e}")))?;
            if n == 0 {
                break;
            }
            size += n as u64;
            if size > cap {
                return Err(ApiError::PayloadTooLarge(cap as usize));
            }
            out.write_all(&buf[..n]).await.map_err(unavailable)?;
        }
        out.flush().await.map_err(unavailable)?;
        drop(out);

        let limits = Limits::new(cap, self.state.settings.max_media_bytes);
        let path = file.path().to_path_buf();
        let archive = tokio::task::spawn_blocking(move || read_archive(&path, &staging, &limits))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .map_err(|e| match e {
                ArchiveError::NotZip(m) => ApiError::BadRequest(format!("not a zip archive: {m}")),
                ArchiveError::TooLarge(m) => {
                    warn!(user = %id.0, "import refused: {m}");
                    ApiError::PayloadTooLarge(cap as usize)
                }
                ArchiveError::Invalid(m) => ApiError::Unprocessable(m),
                ArchiveError::Io(e) => unavailable(e),
            })?;
        drop(file);
        let u = match known {
            Some(u) => u,
            None => {
                let phone = mnemo_shared::domain::inbound::normalize_phone(&id.0)
                    .ok_or_else(|| ApiError::NotFound(format!("no user {}", id.0)))?;
                let from = archive.doc.user.as_ref();
                let tz = from
                    .map(|u| u.timezone.as_str())
                    .filter(|t| t.parse::<Tz>().is_ok())
                    .unwrap_or(self.state.settings.default_timezone.name())
                    .to_string();
                let name = from.and_then(|u| u.display_name.as_deref());
                let id =
                    mnemo_shared::store::ownership::ensure_user(&self.state.db, &phone, &tz, name)
                        .await?;
                info!(user_id = %id, "user created by an import");
                resolve_user(&self.state.db, &id.to_string()).await?
            }
        };

        // Media first (content-addressed: a second put of the same bytes is harmless), then
        // every row in one transaction.
        let mut items = Vec::with_capacity(archive.doc.memories.len());
        for m in &archive.doc.memories {
            let mut media = Vec::new();
            for o in &m.media {
                let staged = archive
                    .media
                    .get(&o.sha256)
                    .ok_or_else(|| ApiError::Internal("staged media vanished".into()))?;
                media.push(StoredMedia {
                    sha256: o.sha256.clone(),
                    content_type: mnemo_shared::media::essence(&o.content_type),
                    size_bytes: staged.size as i64,
                    storage_key: storage_key(&o.sha256),
                });
            }
            items.push(ImportItem {
                original_id: m.id,
                kind: m.kind.clone(),
                text: m.text.clone(),
                labels: m.labels.clone(),
                occurred_at: m.occurred_at,
                body: m.source.as_ref().map(|s| s.body.clone()).filter(|b| !b.is_empty()),
                transcript: m.source.as_ref().and_then(|s| s.transcript.clone()),
                media,
                versions: m.versions.iter().map(|v| (v.text.clone(), v.replaced_at)).collect(),
            });
        }
        for staged in archive.media.values() {
            let ct = items
                .iter()
                .flat_map(|i| i.media.iter())
                .find(|o| o.sha256 == staged.sha256)
                .map(|o| o.content_type.clone())
                .unwrap_or_else(|| "application/octet-stream".into());
            self.state
                .media
                .put(&storage_key(&staged.sha256), staged.file.path(), &ct)
                .await
                .map_err(|e| {
                    tracing::error!(error = %e, "media store write failed");
                    ApiError::Unavailable("the media store is unavailable; retry shortly".into())
                })?;
        }
        let (created, skipped) =
            import(&self.state.db, u.id, &items, self.state.engine.name()).await?;
        info!(user_id = %u.id, imported = created.len(), skipped, "archive imported");
        // Vectors (and Mem0) as for new memories, after answering; the backfill is the
        // backstop for any that fail here.
        let (db, engine) = (self.state.db.clone(), self.state.engine.clone());
        let ids = created.clone();
        tokio::spawn(async move {
            for id in ids {
                if let Ok(Some(m)) = mnemo_shared::store::memories::find(&db, id, None).await
                    && let Err(e) = engine.index(&db, &m, None).await
                {
                    warn!(memory_id = %id, error = %e, "imported memory not indexed yet");
                }
            }
        });
        Ok(Json(Imported { imported: created.len() as u64, skipped }))
    }
}

/// A new MCP token: shown once, stored hashed.
#[derive(Debug, Clone, Object)]
pub struct McpToken {
    /// `Authorization: Bearer <token>` on `/mcp`.
    pub token: String,
}

#[derive(ApiResponse)]
pub enum TokenResponse {
    /// Issued.
    #[oai(status = 201)]
    Created(Json<McpToken>),
}

#[derive(ApiResponse)]
pub enum RevokeResponse {
    /// Every token of the user is revoked (`/mcp` answers 401 to them).
    #[oai(status = 204)]
    Revoked,
}

pub struct McpTokensApi {
    pub state: AppState,
}

#[OpenApi(tag = "RestTags::Users")]
impl McpTokensApi {
    /// Issue an MCP token
    ///
    /// A bearer token for `/mcp` that reaches this user's memories only.
    #[oai(path = "/users/:id/mcp-tokens", method = "post", operation_id = "issue_mcp_token")]
    async fn issue(
        &self,
        _auth: BearerAuth,
        /// A user id or an E.164 number.
        #[oai(example = "super::example_user_path")]
        id: Path<String>,
    ) -> Result<TokenResponse, ApiError> {
        let u = resolve_user(&self.state.db, &id.0).await?;
        let token = mcp_tokens::issue(&self.state.db, u.id).await?;
        info!(user_id = %u.id, "MCP token issued through the API");
        Ok(TokenResponse::Created(Json(McpToken { token })))
    }

    /// Revoke a user's MCP tokens
    #[oai(path = "/users/:id/mcp-tokens", method = "delete", operation_id = "revoke_mcp_tokens")]
    async fn revoke(
        &self,
        _auth: BearerAuth,
        /// A user id or an E.164 number.
        #[oai(example = "super::example_user_path")]
        id: Path<String>,
    ) -> Result<RevokeResponse, ApiError> {
        let u = resolve_user(&self.state.db, &id.0).await?;
        mcp_tokens::revoke_all(&self.state.db, u.id).await?;
        Ok(RevokeResponse::Revoked)
    }
}

#[derive(Debug, serde::Deserialize)]
pub struct LinkQuery {
    exp: Option<String>,
    sig: Option<String>,
}

/// `GET /export/{user_id}?exp=…&sig=…`: the archive through the link `/export` sent. The
/// signature is checked before anything is looked up (403 for a forged or expired link).
#[poem::handler]
pub async fn by_link(
    poem::web::Path(user_id): poem::web::Path<String>,
    poem::web::Query(q): poem::web::Query<LinkQuery>,
    state: Data<&AppState>,
) -> Result<poem::Response, ApiError> {
    let forbidden =
        |why: &str| ApiError::Forbidden(format!("{why}; send /export for a fresh link"));
    let user_id = Uuid::parse_str(&user_id).map_err(|_| forbidden("invalid link"))?;
    let exp: i64 = q
        .exp
        .as_deref()
        .and_then(|e| e.parse().ok())
        .ok_or_else(|| forbidden("missing or invalid link expiry"))?;
    link::verify(
        &state.settings,
        user_id,
        exp,
        q.sig.as_deref().unwrap_or_default(),
        chrono::Utc::now().timestamp(),
    )
    .map_err(|e| forbidden(&e.to_string()))?;
    let u = resolve_user(&state.db, &user_id.to_string()).await?;
    Ok(poem::IntoResponse::into_response(archive(&state, u)))
}
