//! `POST /webhook/status`: Twilio's delivery status callbacks for the messages we sent.
//!
//! Signed like the inbound webhook (403 on a bad signature), 400 without `MessageSid` or
//! `MessageStatus`, otherwise 200 with an empty body — also for a SID we do not know (logged),
//! so Twilio does not retry what can never match. Callbacks may arrive in any order; the
//! status only moves forward (see `mnemo_shared::store::delivery`).

use chrono::Utc;
use mnemo_shared::store::delivery::{Applied, apply_status};
use poem::http::StatusCode;
use poem::web::Data;
use poem::{Body, Request, Response, handler};
use tracing::{info, warn};

use crate::problem::ApiError;
use crate::state::AppState;
use crate::webhook::signed_form;

#[handler]
pub async fn receive(
    req: &Request,
    body: Body,
    state: Data<&AppState>,
) -> Result<Response, ApiError> {
    let params = signed_form(req, body, &state).await?;
    let get = |name: &str| {
        params.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim()).filter(|v| !v.is_empty())
    };
    let sid = get("MessageSid")
        .or_else(|| get("SmsSid"))
        .ok_or_else(|| ApiError::BadRequest("missing MessageSid".into()))?;
    let status = get("MessageStatus")
        .or_else(|| get("SmsStatus"))
        .ok_or_else(|| ApiError::BadRequest("missing MessageStatus".into()))?;
    let error_code = get("ErrorCode");
    let error_message = get("ChannelStatusMessage").or_else(|| get("ErrorMessage"));
    match apply_status(&state.db, sid, status, error_code, error_message, Utc::now()).await? {
        Applied::Updated => info!(message_sid = %sid, status, error_code, "delivery status"),
        Applied::Stale => {
            info!(message_sid = %sid, status, "late or repeated status callback ignored")
        }
        Applied::Unknown => {
            warn!(message_sid = %sid, status, "status callback for an unknown message")
        }
    }
    Ok(Response::builder().status(StatusCode::OK).body(""))
}
