//! Errors from the services outside this machine (Twilio, Mem0, the transcription API),
//! classified once so every caller can decide between "retry later" and "give up now".

use std::time::Duration;

/// Which outside service an error came from (used in logs, metrics and the stored error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Twilio,
    Mem0,
    Transcribe,
    Llm,
    Media,
    Embeddings,
}

impl Service {
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Twilio => "twilio",
            Service::Mem0 => "mem0",
            Service::Transcribe => "transcribe",
            Service::Llm => "llm",
            Service::Media => "media",
            Service::Embeddings => "embeddings",
        }
    }
}

impl std::fmt::Display for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed call to an outside service.
#[derive(Debug, thiserror::Error)]
pub enum ExternalError {
    /// Worth retrying: timeouts, connection errors, 408/429/5xx.
    #[error("{service} temporarily unavailable: {message}")]
    Transient {
        service: Service,
        message: String,
        /// From a `Retry-After` header, when the service gave one.
        retry_after: Option<Duration>,
        /// The HTTP status the service answered with; `None` when no answer came (connect
        /// error, timeout, broken body), i.e. when the request may or may not have taken effect.
        status: Option<u16>,
    },
    /// Retrying cannot help: 4xx other than 408/429, or a response we cannot understand.
    #[error("{service} rejected the request ({status}): {message}")]
    Permanent { service: Service, status: u16, message: String },
}

impl ExternalError {
    pub fn is_transient(&self) -> bool {
        matches!(self, ExternalError::Transient { .. })
    }

    pub fn service(&self) -> Service {
        match self {
            ExternalError::Transient { service, .. } | ExternalError::Permanent { service, .. } => {
                *service
            }
        }
    }

    /// Whether the service answered, so the outcome of the request is known (it was refused);
    /// false after a timeout or a dropped connection, when it may have taken effect.
    pub fn was_answered(&self) -> bool {
        match self {
            ExternalError::Transient { status, .. } => status.is_some(),
            ExternalError::Permanent { .. } => true,
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ExternalError::Transient { retry_after, .. } => *retry_after,
            ExternalError::Permanent { .. } => None,
        }
    }

    /// A transport-level failure (connect, timeout, body read): always transient,
    /// except for a request we could not even build.
    pub fn from_reqwest(service: Service, err: reqwest::Error) -> Self {
        if err.is_builder() {
            return ExternalError::Permanent { service, status: 0, message: err.to_string() };
        }
        if let Some(status) = err.status() {
            return Self::from_status(service, status.as_u16(), err.to_string(), None);
        }
        ExternalError::Transient {
            service,
            message: err.to_string(),
            retry_after: None,
            status: None,
        }
    }

    /// Classifies an HTTP status: 408, 425, 429 and 5xx are transient, other 4xx permanent.
    pub fn from_status(
        service: Service,
        status: u16,
        message: String,
        retry_after: Option<Duration>,
    ) -> Self {
        if matches!(status, 408 | 425 | 429) || status >= 500 {
            ExternalError::Transient {
                service,
                message: format!("HTTP {status}: {message}"),
                retry_after,
                status: Some(status),
            }
        } else {
            ExternalError::Permanent { service, status, message }
        }
    }

    /// Reads a non-success response into an error: status, `Retry-After` (see [`retry_after`])
    /// and the first 512 bytes of the body as the message.
    pub async fn from_response(service: Service, resp: reqwest::Response) -> Self {
        let status = resp.status().as_u16();
        let retry_after = retry_after(resp.headers());
        let body = resp.text().await.unwrap_or_default();
        let mut message: String = body.chars().take(512).collect();
        if message.is_empty() {
            message = "empty response body".to_string();
        }
        Self::from_status(service, status, message, retry_after)
    }

    /// Sends `req`, with `api_key` as its bearer token when there is one: the response when
    /// it is a success, else the error it amounts to (see [`Self::from_response`]).
    pub async fn send_authed(
        service: Service,
        mut req: reqwest::RequestBuilder,
        api_key: Option<&str>,
    ) -> Result<reqwest::Response, Self> {
        if let Some(key) = api_key {
            req = req.bearer_auth(key);
        }
        let resp = req.send().await.map_err(|e| Self::from_reqwest(service, e))?;
        if !resp.status().is_success() {
            return Err(Self::from_response(service, resp).await);
        }
        Ok(resp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified() {
        for s in [408u16, 425, 429, 500, 502, 503, 504] {
            assert!(
                ExternalError::from_status(Service::Mem0, s, String::new(), None).is_transient(),
                "{s}"
            );
        }
        for s in [400u16, 401, 403, 404, 405, 409, 413, 422] {
            assert!(
                !ExternalError::from_status(Service::Mem0, s, String::new(), None).is_transient(),
                "{s}"
            );
        }
    }
}

/// `Retry-After` as a pause: delay-seconds (`"7"`) or an HTTP date (RFC 9110 §10.2.3; a date in
/// the past is no pause). The one reader for every client.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(std::time::SystemTime::now()).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod retry_after_tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn reads_seconds_and_dates() {
        assert_eq!(retry_after(&headers(" 7 ")), Some(Duration::from_secs(7)));
        assert_eq!(retry_after(&headers("Wed, 21 Oct 2015 07:28:00 GMT")), Some(Duration::ZERO));
        let later =
            httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(120));
        let d = retry_after(&headers(&later)).unwrap();
        assert!(d > Duration::from_secs(100) && d <= Duration::from_secs(120), "{d:?}");
        assert_eq!(retry_after(&headers("soon")), None);
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }
}
