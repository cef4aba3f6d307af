//! Who may talk to this server from a browser: a `Host` allow-list (DNS rebinding) and, on
//! state-changing requests, a JSON content type and an allowed `Origin` (CSRF).
//!
//! In the zero-settings mode nothing else protects the REST API and the console: a page on any
//! site could `POST /console/api/send` as a simple `text/plain` request, or rebind its own name
//! to 127.0.0.1 and read `/memories/list`. So:
//!
//! - **Host:** the request's `Host` (or HTTP/2 authority) must name this server: the host of
//!   `BIND_ADDR` (any IP literal when it listens on all addresses: a rebinding page always uses
//!   a name), of `PUBLIC_BASE_URL`, `localhost`/`127.0.0.1`/`[::1]`, or one of `ALLOWED_HOSTS`;
//!   the port is not compared. Otherwise `421 Misdirected Request`.
//! - **State-changing requests** (any method but GET/HEAD/OPTIONS) outside the Twilio webhooks
//!   (form-encoded, signed): a body must be `application/json` (or `…+json`), else `415`; an
//!   `Origin` header, when present, must be this server's (the request's own host, or a name
//!   from the list above, never an IP literal it does not listen on), else `403`.

use std::collections::HashSet;
use std::net::IpAddr;

use mnemo_shared::config::Settings;
use poem::http::{Method, StatusCode, header};
use poem::{Request, Response};
use url::Url;

use crate::problem::{Problem, problem_response};

/// The names this server answers to.
#[derive(Debug, Clone)]
pub struct HostPolicy {
    names: HashSet<String>,
    /// Listening on every address: any IP literal is a name of ours.
    any_ip: bool,
}

/// `host[:port]` → lowercase host without port or trailing dot (`[::1]` keeps its brackets).
fn host_of(authority: &str) -> Option<String> {
    let u = Url::parse(&format!("http://{authority}/")).ok()?;
    if u.path() != "/" || !u.username().is_empty() || u.password().is_some() {
        return None;
    }
    Some(u.host_str()?.trim_end_matches('.').to_ascii_lowercase())
}

fn is_ip_literal(host: &str) -> bool {
    host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().is_ok()
}

impl HostPolicy {
    pub fn from_settings(settings: &Settings) -> Self {
        let mut names: HashSet<String> =
            ["localhost", "127.0.0.1", "[::1]"].into_iter().map(str::to_string).collect();
        let ip = settings.bind_addr.ip();
        if !ip.is_unspecified()
            && let Some(h) = host_of(&settings.bind_addr.to_string())
        {
            names.insert(h);
        }
        if let Some(h) = Url::parse(&settings.public_base_url)
            .ok()
            .and_then(|u| u.host_str().map(|h| h.trim_end_matches('.').to_ascii_lowercase()))
        {
            names.insert(h);
        }
        names.extend(settings.allowed_hosts.iter().cloned());
        HostPolicy { names, any_ip: ip.is_unspecified() }
    }

    /// Is `authority` (a `Host` value) one of ours?
    pub fn host_allowed(&self, authority: &str) -> bool {
        host_of(authority)
            .is_some_and(|h| self.names.contains(&h) || (self.any_ip && is_ip_literal(&h)))
    }

    /// Is `origin` (an `Origin` value) this server, for a request that came in for `host`?
    pub fn origin_allowed(&self, origin: &str, host: Option<&str>) -> bool {
        let Ok(u) = Url::parse(origin) else {
            return false;
        };
        if !matches!(u.scheme(), "http" | "https") {
            return false;
        }
        let Some(name) = u.host_str().map(|h| h.trim_end_matches('.').to_ascii_lowercase()) else {
            return false;
        };
        let same_as_request = host.and_then(host_of).as_deref() == Some(name.as_str());
        same_as_request || self.names.contains(&name)
    }
}

fn refuse(status: StatusCode, detail: &str) -> Response {
    let problem = Problem {
        kind: format!("https://mnemo.dev/problems/{}", status.as_u16()),
        title: status.canonical_reason().unwrap_or("Error").to_string(),
        status: status.as_u16(),
        detail: detail.to_string(),
    };
    problem_response(status, &problem)
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// `None` when the request may go on; otherwise the refusal.
pub fn check(policy: &HostPolicy, req: &Request) -> Option<Response> {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.to_string()));
    if !host.as_deref().is_some_and(|h| policy.host_allowed(h)) {
        return Some(refuse(
            StatusCode::MISDIRECTED_REQUEST,
            "this server does not answer to that Host; add it to ALLOWED_HOSTS",
        ));
    }
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return None;
    }
    let path = req.original_uri().path();
    if path == "/webhook" || path.starts_with("/webhook/") {
        return None;
    }
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let ok = origin.to_str().is_ok_and(|o| policy.origin_allowed(o, host.as_deref()));
        if !ok {
            return Some(refuse(
                StatusCode::FORBIDDEN,
                "cross-origin requests may not change anything here",
            ));
        }
    }
    let content_type =
        req.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap_or("invalid"));
    let has_body = req.headers().contains_key(header::TRANSFER_ENCODING)
        || req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0");
    // An archive import (`POST /users/{user}/import`) is a zip: like JSON, not a type a
    // cross-site form can send without a preflight.
    let archive = |ct: &str| {
        path.ends_with("/import")
            && matches!(
                mnemo_shared::media::essence(ct).as_str(),
                "application/zip" | "application/x-zip-compressed" | "application/octet-stream"
            )
    };
    match content_type {
        Some(ct) if !is_json(ct) && !archive(ct) => Some(refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the request body must be application/json",
        )),
        None if has_body => Some(refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the request body must be application/json",
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn policy(pairs: &[(&str, &str)]) -> HostPolicy {
        let map: HashMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        HostPolicy::from_settings(&Settings::from_map(&map).unwrap())
    }

    #[test]
    fn hosts() {
        let p = policy(&[("ALLOWED_HOSTS", "mnemo.internal")]);
        for ok in [
            "127.0.0.1:8000",
            "127.0.0.1",
            "localhost:8000",
            "LOCALHOST",
            "[::1]:8000",
            "mnemo.internal:1",
        ] {
            assert!(p.host_allowed(ok), "{ok}");
        }
        for bad in ["rebind.evil.example", "10.0.0.5:8000", "", "a@127.0.0.1", "127.0.0.1.nip.io"] {
            assert!(!p.host_allowed(bad), "{bad}");
        }
        let p = policy(&[
            ("BIND_ADDR", "0.0.0.0:8000"),
            ("PUBLIC_BASE_URL", "https://mnemo.example.com"),
        ]);
        assert!(p.host_allowed("10.0.0.5:8000"));
        assert!(p.host_allowed("mnemo.example.com"));
        assert!(!p.host_allowed("rebind.evil.example"));
    }

    #[test]
    fn origins() {
        let p = policy(&[("BIND_ADDR", "0.0.0.0:8000")]);
        assert!(p.origin_allowed("http://10.0.0.5:8000", Some("10.0.0.5:8000")));
        assert!(p.origin_allowed("http://localhost:8000", Some("127.0.0.1:8000")));
        assert!(!p.origin_allowed("http://evil.example", Some("127.0.0.1:8000")));
        assert!(!p.origin_allowed("http://1.2.3.4", Some("10.0.0.5:8000")));
        assert!(!p.origin_allowed("null", Some("127.0.0.1:8000")));
        assert!(is_json("application/json; charset=utf-8"));
        assert!(is_json("application/problem+json"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("application/x-www-form-urlencoded"));
    }
}
