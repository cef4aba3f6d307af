//! `Idempotency-Key` for `POST /memories`.
//!
//! Insert-first: the key's row is inserted (`ON CONFLICT DO NOTHING`) *before* any work, so of
//! two concurrent requests with one key exactly one proceeds — no check-then-insert race. The
//! winner stores its response on the row; a retry with the same body gets that response back,
//! a different body is a 422, and a retry while the first is still running a 409. A failed
//! request releases its key (nothing was created), so the client can fix it and retry. Keys are
//! kept for 24 hours; a key left "in progress" by a crashed process is taken over after a minute.

use chrono::{Duration, Utc};
use mnemo_shared::sea_orm::DatabaseConnection;
use mnemo_shared::store::idempotency as keys;
use serde_json::Value as Json;
use sha2::{Digest, Sha256};

use crate::problem::ApiError;

/// How long a key is remembered.
pub const RETENTION_HOURS: i64 = 24;
/// After this long without a stored response, a key's first request is presumed dead.
pub const ABANDONED_AFTER_SECS: i64 = 60;
pub const MAX_KEY_LEN: usize = 255;

#[derive(Debug, PartialEq, Eq)]
pub enum Begin {
    /// This request owns the key: do the work, then [`complete`] or [`release`].
    Proceed,
    /// The first request's response.
    Replay { status: u16, body: String },
    /// The key was used with a different body.
    Mismatch,
    /// The first request is still running.
    InProgress,
}

/// Checks the key's form: 1–255 visible ASCII characters.
pub fn validate_key(key: &str) -> Result<(), ApiError> {
    if key.is_empty() || key.len() > MAX_KEY_LEN || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::Unprocessable(format!(
            "`Idempotency-Key` must be 1–{MAX_KEY_LEN} visible ASCII characters"
        )));
    }
    Ok(())
}

/// A stable fingerprint of a JSON document: object keys sorted, whitespace ignored.
pub fn fingerprint(doc: &Json) -> String {
    fn canonical(v: &Json, out: &mut String) {
        match v {
            Json::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push('{');
                for (i, k) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Json::String(k.clone()).to_string());
                    out.push(':');
                    canonical(&map[k], out);
                }
                out.push('}');
            }
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    canonical(item, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut s = String::new();
    canonical(doc, &mut s);
    let digest = Sha256::digest(s.as_bytes());
    hex::encode(digest)
}

pub async fn begin(db: &DatabaseConnection, key: &str, hash: &str) -> Result<Begin, ApiError> {
    let now = Utc::now();
    keys::purge_before(db, now - Duration::hours(RETENTION_HOURS)).await?;
    for _ in 0..3 {
        if keys::reserve(db, key, hash, now).await? {
            return Ok(Begin::Proceed);
        }
        let Some(row) = keys::find(db, key).await? else {
            // Released between our insert and select: try again.
            continue;
        };
        if row.request_hash != hash {
            return Ok(Begin::Mismatch);
        }
        if let Some(status) = row.status {
            return Ok(Begin::Replay { status: status as u16, body: row.body.unwrap_or_default() });
        }
        if row.created_at < now - Duration::seconds(ABANDONED_AFTER_SECS)
            && keys::take_over(db, key, row.created_at, now).await?
        {
            return Ok(Begin::Proceed);
        }
        return Ok(Begin::InProgress);
    }
    Err(ApiError::Conflict("the Idempotency-Key is being used concurrently; retry".into()))
}

/// Stores the response the key's request produced.
pub async fn complete(
    db: &DatabaseConnection,
    key: &str,
    status: u16,
    body: &str,
) -> Result<(), ApiError> {
    keys::complete(db, key, status, body, Utc::now()).await?;
    Ok(())
}

/// Forgets the key after a failed request, so a corrected retry can use it.
pub async fn release(db: &DatabaseConnection, key: &str) {
    if let Err(e) = keys::release(db, key).await {
        tracing::warn!(error = %e, "could not release an idempotency key");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fingerprints_ignore_key_order_and_whitespace() {
        let a: Json =
            serde_json::from_str(r#"{"user":"+1","text":"x","labels":["a","b"]}"#).unwrap();
        let b: Json =
            serde_json::from_str(r#"{ "labels": ["a","b"], "text":"x", "user":"+1" }"#).unwrap();
        assert_eq!(fingerprint(&a), fingerprint(&b));
        assert_ne!(
            fingerprint(&a),
            fingerprint(&json!({"user":"+1","text":"y","labels":["a","b"]}))
        );
        assert_ne!(
            fingerprint(&a),
            fingerprint(&json!({"user":"+1","text":"x","labels":["b","a"]}))
        );
        assert_eq!(fingerprint(&a).len(), 64);
    }

    #[test]
    fn key_forms() {
        assert!(validate_key("abc-123_XYZ").is_ok());
        assert!(validate_key(&"k".repeat(255)).is_ok());
        for bad in ["", "has space", "tab\t", "ünï", &"k".repeat(256)] {
            assert!(validate_key(bad).is_err(), "{bad:?}");
        }
    }
}
