//! The request log: one span per request (method, path, redacted query) and one line per
//! response, like poem's `Tracing` but never with a credential in it.
//!
//! poem's own middleware logs the whole URI, so `GET /console?token=<API_TOKEN>` put the API
//! token into the log. Here the query is kept for debugging with the values of credential-like
//! names replaced by `<redacted>` (`token`, `sig`, `signature`, any `*key*`, `*secret*`,
//! `*password*`, `X-Amz-*`), and on `/console` every value. Headers (`Authorization`, cookies)
//! are never logged.

use std::time::Instant;

use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};
use tracing::{Instrument, Level};

/// The middleware; `.with(AccessLog)` on the app.
pub struct AccessLog;

impl<E: Endpoint> Middleware<E> for AccessLog {
    type Output = AccessLogEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        AccessLogEndpoint { inner: ep }
    }
}

pub struct AccessLogEndpoint<E> {
    inner: E,
}

/// A name whose value is a credential.
fn secret_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    matches!(n.as_str(), "token" | "sig" | "signature" | "auth" | "code")
        || n.contains("key")
        || n.contains("secret")
        || n.contains("password")
        || n.contains("token")
        || n.starts_with("x-amz-")
}

/// The path and query for the log: credential values (every value on `/console`) redacted.
pub fn redacted_target(path: &str, query: Option<&str>) -> String {
    let Some(query) = query.filter(|q| !q.is_empty()) else {
        return path.to_string();
    };
    let console = path == "/console" || path.starts_with("/console/");
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        if console || secret_name(&k) {
            out.append_pair(&k, "<redacted>");
        } else {
            out.append_pair(&k, &v);
        }
    }
    format!("{path}?{}", out.finish())
}

impl<E: Endpoint> Endpoint for AccessLogEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        let uri = req.original_uri();
        let target = redacted_target(uri.path(), uri.query());
        let span = tracing::span!(
            Level::INFO,
            "request",
            remote_addr = %req.remote_addr(),
            version = ?req.version(),
            method = %req.method(),
            uri = %target,
        );
        async move {
            let started = Instant::now();
            match self.inner.call(req).await {
                Ok(resp) => {
                    let resp = resp.into_response();
                    tracing::info!(status = %resp.status(), duration = ?started.elapsed(), "response");
                    Ok(resp)
                }
                Err(err) => {
                    tracing::info!(status = %err.status(), duration = ?started.elapsed(), "error");
                    Err(err)
                }
            }
        }
        .instrument(span)
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::redacted_target;

    #[test]
    fn credentials_never_reach_the_log() {
        assert_eq!(
            redacted_target("/console", Some("token=s3cret")),
            "/console?token=%3Credacted%3E"
        );
        assert_eq!(
            redacted_target("/console/chat", Some("phone=%2B1415&x=1")),
            "/console/chat?phone=%3Credacted%3E&x=%3Credacted%3E"
        );
        let media = redacted_target("/media/ab", Some("exp=1&sig=abc"));
        assert!(media.contains("exp=1") && !media.contains("abc"), "{media}");
        let list = redacted_target("/memories/list", Some("user=%2B1415&api_key=k1"));
        assert!(list.contains("user=%2B1415") && !list.contains("k1"), "{list}");
        assert_eq!(redacted_target("/health", None), "/health");
    }
}
