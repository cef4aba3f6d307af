//! A JSON request body read under a size cap (413 past it, chunked bodies included) that keeps
//! the parsed document next to the typed value, for the idempotency fingerprint.

use poem::{Request, RequestBody};
use poem_openapi::impl_apirequest_for_payload;
use poem_openapi::payload::{ParsePayload, Payload};
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::{ParseFromJSON, Type};
use serde_json::Value;

use crate::problem::ApiError;
use crate::state::AppState;

/// The cap for a JSON body: room for a base64 upload of `MAX_MEDIA_BYTES` and its fields.
pub fn body_limit(state: &AppState) -> usize {
    let media = state.settings.max_media_bytes as usize;
    media.saturating_mul(4) / 3 + 64 * 1024
}

pub struct LimitedJson<T> {
    pub value: T,
    pub document: Value,
}

impl<T: Type> Payload for LimitedJson<T> {
    const CONTENT_TYPE: &'static str = "application/json; charset=utf-8";

    fn check_content_type(content_type: &str) -> bool {
        <poem_openapi::payload::Json<T> as Payload>::check_content_type(content_type)
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: ParseFromJSON> ParsePayload for LimitedJson<T> {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let limit = request
            .data::<AppState>()
            .map(body_limit)
            .unwrap_or(64 * 1024);
        let bytes = body
            .take()?
            .into_bytes_limit(limit)
            .await
            .map_err(|e| match e {
                poem::error::ReadBodyError::PayloadTooLarge => ApiError::PayloadTooLarge(limit),
                other => ApiError::BadRequest(format!("could not read the body: {other}")),
            })?;
        if bytes.is_empty() {
            return Err(ApiError::BadRequest("the request body is empty".into()).into());
        }
        let document: Value = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::BadRequest(format!("malformed JSON: {e}")))?;
        let value = T::parse_from_json(Some(document.clone()))
            .map_err(|e| ApiError::BadRequest(e.into_message()))?;
        Ok(LimitedJson { value, document })
    }
}

impl_apirequest_for_payload!(LimitedJson<T>, T: ParseFromJSON);
