//! A small JSON request body with an explicit size cap: read under the cap (413 past it,
//! chunked bodies included) and parsed straight into its type, for the routes whose bodies are
//! a few fields (`POST /reminders`). poem-openapi's own `Json` reads a body whole, whatever its
//! size.

use poem::{Request, RequestBody};
use poem_openapi::impl_apirequest_for_payload;
use poem_openapi::payload::{ParsePayload, Payload};
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::{ParseFromJSON, Type};

use crate::problem::ApiError;

/// The cap for a small JSON body: a reminder's longest text (4 bytes a character at most),
/// its `when` phrase and user, with room to spare.
pub const SMALL_JSON_BYTES: usize = 16 * 1024;

pub struct SmallJson<T>(pub T);

impl<T> std::ops::Deref for SmallJson<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: Type> Payload for SmallJson<T> {
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

impl<T: ParseFromJSON> ParsePayload for SmallJson<T> {
    const IS_REQUIRED: bool = true;

    async fn from_request(_request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let bytes = body
            .take()?
            .into_bytes_limit(SMALL_JSON_BYTES)
            .await
            .map_err(|e| ApiError::unreadable_body(e, SMALL_JSON_BYTES))?;
        if bytes.is_empty() {
            return Err(ApiError::BadRequest("the request body is empty".into()).into());
        }
        let document: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::BadRequest(format!("malformed JSON: {e}")))?;
        let value = T::parse_from_json(Some(document))
            .map_err(|e| ApiError::BadRequest(e.into_message()))?;
        Ok(SmallJson(value))
    }
}

impl_apirequest_for_payload!(SmallJson<T>, T: ParseFromJSON);
