//! The local web console (issue 8), mounted at `/console` only when `CONSOLE_ENABLED` is true
//! (the default in the zero-settings embedded mode).
//!
//! * `GET /console/chat`: a WhatsApp-like chat simulator. Every message takes the real path:
//!   `POST /console/api/send` builds a Twilio-shaped form, signs it with `TWILIO_AUTH_TOKEN`
//!   when set and posts it to this server's own `/webhook` over HTTP; an attached file is
//!   served at `GET /console/media/{id}` on `PUBLIC_BASE_URL` for the worker to download as it
//!   would from Twilio (see `Settings::media_hosts`).
//! * `GET /console`: the dashboard (its figures from `GET /console/api/dashboard`).
//!
//! Access: with `API_TOKEN` unset the console is open (like the REST API), to whoever can
//! reach `BIND_ADDR` under an allowed `Host` (see `crate::guard`). With `API_TOKEN` set, every
//! console route needs either `Authorization: Bearer <API_TOKEN>` or the `mnemo_console`
//! session cookie, which `GET /console?token=<API_TOKEN>` (or `/console/chat?token=…`) sets
//! before redirecting to the same page without the token. The cookie is not the token: it is
//! an expiry, a nonce and an HMAC-SHA256 over both keyed by the token (so changing
//! `API_TOKEN` ends every session), valid for [`SESSION_TTL_SECS`], sent `HttpOnly;
//! SameSite=Strict; Path=/console`, and `Secure` when `PUBLIC_BASE_URL` is https.
//! `/console/media/{id}` is exempt: the worker fetches it like a Twilio media URL, its ids are
//! unguessable (UUIDv4), and it only serves checked media types, inert (`media::types`).

pub mod chat;
pub mod dashboard;

use hmac::{Hmac, Mac};
use mnemo_shared::config::ExposeSecret;
use mnemo_shared::domain::bearer;
use poem::http::{StatusCode, header};
use poem::web::Html;
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response, Route, get, post};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::problem::ApiError;
use crate::state::AppState;

pub const COOKIE: &str = "mnemo_console";

const CHAT_HTML: &str = include_str!("../../console/chat.html");
const DASHBOARD_HTML: &str = include_str!("../../console/dashboard.html");
const STYLE_CSS: &str = include_str!("../../console/console.css");
/// What both pages share: WhatsApp markup as formatting, times in the user's zone.
const SCRIPT_JS: &str = include_str!("../../console/console.js");

/// The console's routes, to nest at `/console`.
pub fn routes() -> impl Endpoint {
    let pages = Route::new()
        .at("/", get(dashboard_page))
        .at("/chat", get(chat_page))
        .at("/console.css", get(style))
        .at("/console.js", get(script))
        .at("/api/send", post(chat::send))
        .at("/api/messages", get(chat::messages))
        .at("/api/dashboard", get(dashboard::data))
        .around(|ep, req| async move {
            if let Some(res) = gate(&req) {
                return Ok(res);
            }
            ep.call(req).await.map(IntoResponse::into_response)
        });
    Route::new().at("/media/:id", get(chat::serve_media)).nest("/", pages)
}

/// How long a console session lasts.
pub const SESSION_TTL_SECS: i64 = 12 * 3600;

fn cookie_value(req: &Request) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}

fn query_token(req: &Request) -> Option<String> {
    form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
}

fn session_mac(token: &str, payload: &str) -> Vec<u8> {
    // A key of its own, derived from the token, so the MAC is no oracle for anything else.
    let key = Sha256::new()
        .chain_update(b"mnemo console session v1\0")
        .chain_update(token.as_bytes())
        .finalize();
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).expect("any key length");
    mac.update(payload.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// A new session value: `{expiry}.{nonce}.{mac}`, all hex or digits (cookie-safe).
pub fn new_session(token: &str, now: i64) -> String {
    let nonce = Uuid::new_v4().simple().to_string();
    let payload = format!("{}.{nonce}", now + SESSION_TTL_SECS);
    let mac = hex::encode(session_mac(token, &payload));
    format!("{payload}.{mac}")
}

/// Is `value` a session this token made that has not expired?
pub fn valid_session(token: &str, value: &str, now: i64) -> bool {
    let Some((payload, mac)) = value.rsplit_once('.') else {
        return false;
    };
    let Some(expiry) = payload.split_once('.').and_then(|(e, _)| e.parse::<i64>().ok()) else {
        return false;
    };
    let expected = hex::encode(session_mac(token, payload));
    let fresh = expiry > now && expiry <= now + SESSION_TTL_SECS;
    let genuine: bool = expected.as_bytes().ct_eq(mac.as_bytes()).into();
    genuine && fresh
}

/// The `Set-Cookie` value for a new session.
pub fn session_cookie(token: &str, public_base_url: &str, now: i64) -> String {
    let secure = if public_base_url.starts_with("https://") { "; Secure" } else { "" };
    format!(
        "{COOKIE}={}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={SESSION_TTL_SECS}{secure}",
        new_session(token, now)
    )
}

/// `None` when the request may go on; otherwise the response to give instead.
fn gate(req: &Request) -> Option<Response> {
    let Some(state) = req.data::<AppState>() else {
        // Fail closed.
        return Some(ApiError::Internal("application state missing".into()).into_response());
    };
    let token = state.settings.api_token.as_ref()?.expose_secret();
    let now = chrono::Utc::now().timestamp();
    let authorization = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    if bearer::carries(authorization, token)
        || cookie_value(req).is_some_and(|c| valid_session(token, &c, now))
    {
        return None;
    }
    // `?token=` on a page: start a session and come back without the token in the URL.
    if req.method() == poem::http::Method::GET
        && let Some(given) = query_token(req)
        && bearer::same(&given, token)
    {
        return Some(
            Response::builder()
                .status(StatusCode::SEE_OTHER)
                .header(header::LOCATION, req.original_uri().path())
                .header(
                    header::SET_COOKIE,
                    session_cookie(token, &state.settings.public_base_url, now),
                )
                .header(header::CACHE_CONTROL, "no-store")
                .finish(),
        );
    }
    Some(
        ApiError::Unauthorized(
            "the console needs the API token: open /console?token=<API_TOKEN> once, or send \
             `Authorization: Bearer <API_TOKEN>`"
                .into(),
        )
        .into_response(),
    )
}

#[poem::handler]
fn dashboard_page() -> Html<&'static str> {
    Html(DASHBOARD_HTML)
}

#[poem::handler]
fn chat_page() -> Html<&'static str> {
    Html(CHAT_HTML)
}

#[poem::handler]
fn style() -> Response {
    Response::builder().content_type("text/css; charset=utf-8").body(STYLE_CSS)
}

#[poem::handler]
fn script() -> Response {
    Response::builder().content_type("text/javascript; charset=utf-8").body(SCRIPT_JS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_signed_expiring_and_not_the_token() {
        let now = 1_800_000_000;
        let s = new_session("s3cret", now);
        assert!(!s.contains("s3cret"));
        assert!(valid_session("s3cret", &s, now));
        assert!(valid_session("s3cret", &s, now + SESSION_TTL_SECS - 1));
        assert!(!valid_session("s3cret", &s, now + SESSION_TTL_SECS));
        assert!(!valid_session("other", &s, now));
        // Another expiry under the same MAC, the raw token, garbage: refused.
        let (_, rest) = s.split_once('.').unwrap();
        assert!(!valid_session("s3cret", &format!("{}.{rest}", now + 10 * SESSION_TTL_SECS), now));
        assert!(!valid_session("s3cret", "s3cret", now));
        assert!(!valid_session("s3cret", "", now));
        let cookie = session_cookie("s3cret", "https://mnemo.example.com", now);
        for attr in ["HttpOnly", "SameSite=Strict", "Path=/console", "Secure", "Max-Age="] {
            assert!(cookie.contains(attr), "{cookie}");
        }
        assert!(!session_cookie("s3cret", "http://127.0.0.1:8000", now).contains("Secure"));
    }
}
