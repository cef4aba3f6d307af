//! Every error a client can cause, mapped to HTTP in this one place as
//! `application/problem+json` `{type, title, status, detail}` (RFC 9457).

use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiResponse, Object};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("request body larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    Unprocessable(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
}

/// An RFC 9457 problem document, served as `application/problem+json`.
#[derive(Debug, Clone, Serialize, Object)]
#[oai(example)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    #[oai(rename = "type")]
    pub kind: String,
    /// The HTTP reason phrase.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong with this request, for a person to read.
    pub detail: String,
}

impl poem_openapi::types::Example for Problem {
    fn example() -> Self {
        Problem {
            kind: "https://mnemo.dev/problems/not-found".into(),
            title: "Not Found".into(),
            status: 404,
            detail: "no user +14155550199".into(),
        }
    }
}

/// The content type of every error response.
pub const PROBLEM_JSON: &str = "application/problem+json";

impl ApiError {
    /// A body that could not be read whole under `limit` bytes: 413 past the cap, else 400.
    pub fn unreadable_body(e: poem::error::ReadBodyError, limit: usize) -> Self {
        match e {
            poem::error::ReadBodyError::PayloadTooLarge => ApiError::PayloadTooLarge(limit),
            other => ApiError::BadRequest(format!("could not read the body: {other}")),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A short label for metrics.
    pub fn outcome(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::PayloadTooLarge(_) => "too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::Unprocessable(_) => "unprocessable",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    pub fn problem(&self) -> Problem {
        let status = self.status();
        let slug = match self {
            ApiError::BadRequest(_) => "bad-request",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not-found",
            ApiError::PayloadTooLarge(_) => "payload-too-large",
            ApiError::Conflict(_) => "conflict",
            ApiError::UnsupportedMediaType(_) => "unsupported-media-type",
            ApiError::Unprocessable(_) => "unprocessable",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        };
        Problem {
            kind: format!("https://mnemo.dev/problems/{slug}"),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail: self.to_string(),
        }
    }
}

/// Renders a problem response.
pub fn problem_response(status: StatusCode, problem: &Problem) -> Response {
    let body = serde_json::to_vec(problem).unwrap_or_default();
    Response::builder().status(status).content_type(PROBLEM_JSON).body(body)
}

impl poem::error::ResponseError for ApiError {
    fn status(&self) -> StatusCode {
        ApiError::status(self)
    }

    fn as_response(&self) -> Response {
        problem_response(self.status(), &self.problem())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        problem_response(self.status(), &self.problem())
    }
}

/// Every REST operation declares these error responses (problem+json), including the ones the
/// framework itself produces for unparseable input, so clients and schema checkers know them.
impl ApiResponse for ApiError {
    fn meta() -> MetaResponses {
        let problem = || {
            vec![MetaMediaType {
                content_type: PROBLEM_JSON,
                schema: <Problem as Type>::schema_ref(),
            }]
        };
        let responses = [
            (400, "The request could not be parsed (malformed JSON, wrong types, missing fields, bad query values)."),
            (401, "`API_TOKEN` is set and the request has no valid `Authorization: Bearer …`."),
            (404, "No such user, memory or route."),
            (409, "A request with the same `Idempotency-Key` is still in progress."),
            (413, "The request body is too large."),
            (415, "The request body is not `application/json`."),
            (422, "The request parsed but is invalid (see `detail`)."),
            (503, "The database or an engine it relies on is unavailable; retry shortly."),
        ]
        .into_iter()
        .map(|(status, description)| MetaResponse {
            description,
            status: Some(status),
            status_range: None,
            content: problem(),
            headers: vec![],
        })
        .collect();
        MetaResponses { responses }
    }

    fn register(registry: &mut Registry) {
        <Problem as Type>::register(registry);
    }
}

impl From<mnemo_shared::sea_orm::DbErr> for ApiError {
    fn from(e: mnemo_shared::sea_orm::DbErr) -> Self {
        tracing::error!(error = %e, "database error");
        ApiError::Unavailable("the database is unavailable; retry shortly".into())
    }
}

/// The webhook's group commit shares one database error among the messages of a batch.
impl From<std::sync::Arc<mnemo_shared::sea_orm::DbErr>> for ApiError {
    fn from(e: std::sync::Arc<mnemo_shared::sea_orm::DbErr>) -> Self {
        Self::from(mnemo_shared::sea_orm::DbErr::Custom(e.to_string()))
    }
}

/// Turns any error that escaped a handler (the framework's own parse errors included) into
/// problem+json, keeping its status; server-side faults never leak their text.
pub async fn catch_all(err: poem::Error) -> Response {
    if let Some(api) = err.downcast_ref::<ApiError>() {
        return problem_response(api.status(), &api.problem());
    }
    let status = err.status();
    let detail = if status.is_server_error() {
        tracing::error!(error = %err, "unhandled server error");
        "internal error".to_string()
    } else {
        err.to_string()
    };
    let problem = Problem {
        kind: format!("https://mnemo.dev/problems/{}", status.as_u16()),
        title: status.canonical_reason().unwrap_or("Error").to_string(),
        status: status.as_u16(),
        detail,
    };
    problem_response(status, &problem)
}
