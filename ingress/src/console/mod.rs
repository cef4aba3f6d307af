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
//! Access: with `API_TOKEN` unset the console is open (like the REST API). With `API_TOKEN`
//! set, every console route needs either `Authorization: Bearer <API_TOKEN>` or the
//! `mnemo_console` cookie, which `GET /console?token=<API_TOKEN>` (or `/console/chat?token=…`)
//! sets (HttpOnly, SameSite=Strict, Path=/console) before redirecting to the same page without
//! the token. `/console/media/{id}` is exempt: the worker fetches it like a Twilio media URL,
//! and its ids are unguessable (UUIDv4).

pub mod chat;
pub mod dashboard;

use poem::http::{StatusCode, header};
use poem::web::Html;
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response, Route, get, post};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::api::auth::authorized;
use crate::problem::ApiError;
use crate::state::AppState;

pub const COOKIE: &str = "mnemo_console";

const CHAT_HTML: &str = include_str!("../../console/chat.html");
const DASHBOARD_HTML: &str = include_str!("../../console/dashboard.html");
const STYLE_CSS: &str = include_str!("../../console/console.css");

/// The console's routes, to nest at `/console`.
pub fn routes() -> impl Endpoint {
    let pages = Route::new()
        .at("/", get(dashboard_page))
        .at("/chat", get(chat_page))
        .at("/console.css", get(style))
        .at("/api/send", post(chat::send))
        .at("/api/messages", get(chat::messages))
        .at("/api/dashboard", get(dashboard::data))
        .around(|ep, req| async move {
            if let Some(res) = gate(&req) {
                return Ok(res);
            }
            ep.call(req).await.map(IntoResponse::into_response)
        });
    Route::new()
        .at("/media/:id", get(chat::serve_media))
        .nest("/", pages)
}

fn same(a: &str, b: &str) -> bool {
    Sha256::digest(a.as_bytes())
        .ct_eq(&Sha256::digest(b.as_bytes()))
        .into()
}

fn cookie_token(req: &Request) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| cookie_decode(v))
}

fn query_token(req: &Request) -> Option<String> {
    form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
}

/// `None` when the request may go on; otherwise the response to give instead.
fn gate(req: &Request) -> Option<Response> {
    let Some(state) = req.data::<AppState>() else {
        // Fail closed.
        return Some(ApiError::Internal("application state missing".into()).into_response());
    };
    let token = state.settings.api_token.as_deref()?;
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if authorized(bearer, token) || cookie_token(req).is_some_and(|c| same(&c, token)) {
        return None;
    }
    // `?token=` on a page: set the cookie and come back without the token in the URL.
    if req.method() == poem::http::Method::GET
        && let Some(given) = query_token(req)
        && same(&given, token)
    {
        let cookie = format!(
            "{COOKIE}={}; Path=/console; HttpOnly; SameSite=Strict",
            cookie_safe(token)
        );
        return Some(
            Response::builder()
                .status(StatusCode::SEE_OTHER)
                .header(header::LOCATION, req.original_uri().path())
                .header(header::SET_COOKIE, cookie)
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

/// The token as a cookie value: `%XX` for the bytes a cookie value cannot hold, so a token
/// with `;`, `,`, spaces or quotes still round-trips (compared after decoding).
fn cookie_safe(token: &str) -> String {
    token
        .bytes()
        .map(|b| match b {
            b'!' | b'#'..=b'+' | b'-'..=b':' | b'<'..=b'[' | b']'..=b'~' if b != b'%' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn cookie_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && value.is_char_boundary(i + 3)
            && let Ok(b) = u8::from_str_radix(&value[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
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
    Response::builder()
        .content_type("text/css; charset=utf-8")
        .body(STYLE_CSS)
}
