//! `GET /media/{sha256}?exp=…&sig=…`: stored media through a signed, expiring link (the
//! local store's links; S3 hands out presigned URLs instead).
//!
//! The signature is checked before anything is looked up, so a forged or expired link learns
//! nothing: 403. A valid link to an object we do not hold: 404. The body is streamed from the
//! store, never read into memory.

use mnemo_shared::media::{is_sha256_hex, storage_key, types};
use mnemo_shared::store::media_objects;
use poem::http::{StatusCode, header};
use poem::web::{Data, Path, Query};
use poem::{Body, Response, handler};
use serde::Deserialize;

use crate::problem::ApiError;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct LinkQuery {
    exp: Option<String>,
    sig: Option<String>,
}

#[handler]
pub async fn serve(
    Path(sha256): Path<String>,
    Query(q): Query<LinkQuery>,
    state: Data<&AppState>,
) -> Result<Response, ApiError> {
    let forbidden = |why: &str| ApiError::Forbidden(format!("{why}; ask for a fresh link"));
    let exp: i64 = q
        .exp
        .as_deref()
        .and_then(|e| e.parse().ok())
        .ok_or_else(|| forbidden("missing or invalid link expiry"))?;
    let sig = q.sig.as_deref().unwrap_or_default();
    if !is_sha256_hex(&sha256) {
        return Err(forbidden("invalid link signature"));
    }
    state
        .media
        .verify_link(&sha256, exp, sig, chrono::Utc::now().timestamp())
        .map_err(|e| forbidden(&e.to_string()))?;

    let not_found = || ApiError::NotFound("no such media".into());
    let object = media_objects::find_by_sha256(&state.db, &sha256).await?.ok_or_else(not_found)?;
    let reader = state
        .media
        .get(&storage_key(&sha256))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "media store read failed");
            ApiError::Unavailable("the media store is unavailable; retry shortly".into())
        })?
        .ok_or_else(not_found)?;
    let max_age = (exp - chrono::Utc::now().timestamp()).max(0);
    // Users send arbitrary files: only media renders inline, and nothing runs scripts.
    let (content_type, disposition) = types::serving_headers(&object.content_type);
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CONTENT_LENGTH, reader.size)
        .header(header::CACHE_CONTROL, format!("private, max-age={max_age}"))
        .header("X-Content-Type-Options", "nosniff")
        .header("Content-Security-Policy", types::SANDBOX_CSP)
        .header(header::CONTENT_DISPOSITION, disposition)
        .body(Body::from_async_read(reader.body)))
}
