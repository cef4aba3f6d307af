//! Bearer-token authentication for the REST API.
//!
//! With `API_TOKEN` set, every REST operation needs `Authorization: Bearer <token>`; the
//! comparison is over SHA-256 digests with `subtle`, so it takes the same time whatever the
//! given token is (its length included). Without `API_TOKEN` the API is open (logged at start).
//! Declared as the `BearerAuth` security scheme of every REST operation in `/openapi.json`.
//! Health, readiness, docs and the webhooks do not take this extractor.

use mnemo_shared::config::ExposeSecret;
use mnemo_shared::domain::bearer;
use poem::{Request, RequestBody};
use poem_openapi::registry::{MetaSecurityScheme, Registry};
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};

use crate::problem::ApiError;
use crate::state::AppState;

pub const SCHEME: &str = "BearerAuth";

/// Proof that the request may use the REST API.
pub struct BearerAuth;

impl<'a> ApiExtractor<'a> for BearerAuth {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];

    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        registry.create_security_scheme(
            SCHEME,
            MetaSecurityScheme {
                ty: "http",
                description: Some(
                    "`Authorization: Bearer <API_TOKEN>`. Required on every REST endpoint when the \
                     server has `API_TOKEN` set; not used by /health, /ready, /docs, /openapi.json \
                     and the webhooks.",
                ),
                name: None,
                key_in: None,
                scheme: Some("bearer"),
                bearer_format: None,
                flows: None,
                openid_connect_url: None,
            },
        );
    }

    fn security_schemes() -> Vec<&'static str> {
        vec![SCHEME]
    }

    async fn from_request(
        req: &'a Request,
        _body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let state = req
            .data::<AppState>()
            .ok_or_else(|| ApiError::Internal("application state missing".into()))?;
        let Some(token) = &state.settings.api_token else {
            return Ok(BearerAuth);
        };
        let header =
            req.headers().get(poem::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        if bearer::carries(header, token.expose_secret()) {
            Ok(BearerAuth)
        } else {
            Err(ApiError::Unauthorized("missing or invalid `Authorization: Bearer` token".into())
                .into())
        }
    }
}
