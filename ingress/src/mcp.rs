//! MCP at `/mcp` (DESIGN §12): an AI assistant reaches one user's memories over the Model
//! Context Protocol (streamable HTTP, the official `rmcp` SDK), with four tools:
//! `search_memories`, `list_memories`, `add_memory`, `forget_memory`.
//!
//! Every request carries `Authorization: Bearer <token>`; the token (from `/connect` in chat
//! or `POST /users/{user}/mcp-tokens`, stored hashed) is looked up before rmcp sees the
//! request, 401 when it is missing, wrong or revoked. The user it names travels with the
//! request ([`McpUser`] in the HTTP parts rmcp hands each tool), so a tool can only ever read
//! or change that user's memories. The server is stateless (no MCP sessions): any ingress
//! replica answers any request.

use std::sync::Arc;

use chrono::Utc;
use chrono_tz::Tz;
use http_body_util::BodyExt;
use mnemo_shared::domain::bearer;
use mnemo_shared::domain::phone::UserRef;
use mnemo_shared::ownership::forget;
use mnemo_shared::store::entities::memory;
use mnemo_shared::store::{mcp_tokens, ownership, users};
use poem::http::request::Parts;
use poem::{Endpoint, IntoResponse, Request, Response};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::Extension;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, ServerCapabilities, ServerConfig};
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, ServerHandler, schemars, tool, tool_handler, tool_router};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::api::range::resolve_range_phrase;
use crate::api::user_zone;
use crate::problem::ApiError;
use crate::state::AppState;

/// The user a request's token names.
#[derive(Debug, Clone, Copy)]
pub struct McpUser(pub Uuid);

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct SearchArgs {
    /// What to look for, in the user's words.
    pub query: String,
    /// A time phrase in the user's zone: `today`, `last week`, `this month`, `last 3 days`…
    pub range: Option<String>,
    /// At most this many (1-50, default 10).
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct ListArgs {
    /// A time phrase in the user's zone, e.g. `last week`.
    pub range: Option<String>,
    /// `text`, `image`, `audio`, `video`, `document` or `location`.
    pub kind: Option<String>,
    /// At most this many, newest first (1-100, default 20).
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct AddArgs {
    /// The note to keep.
    pub text: String,
    pub labels: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct ForgetArgs {
    /// The memory's id (from search_memories or list_memories).
    pub id: String,
}

/// The tools, for the user of each request.
#[derive(Clone)]
pub struct MemoryTools {
    state: AppState,
    tool_router: ToolRouter<Self>,
}

fn user_of(parts: &Parts) -> Result<Uuid, ErrorData> {
    parts
        .extensions
        .get::<McpUser>()
        .map(|u| u.0)
        .ok_or_else(|| ErrorData::invalid_request("no user for this request", None))
}

fn internal(e: impl std::fmt::Display) -> ErrorData {
    ErrorData::internal_error(e.to_string(), None)
}

fn out(m: &memory::Model, tz: Tz) -> serde_json::Value {
    json!({
        "id": m.id,
        "kind": m.kind.to_string(),
        "text": m.text,
        "labels": m.labels,
        "occurred_at": m.occurred_at,
        "occurred_at_local": m.occurred_at.with_timezone(&tz).to_rfc3339(),
    })
}

fn result(v: serde_json::Value) -> CallToolResult {
    CallToolResult::success(vec![ContentBlock::text(v.to_string())])
}

impl MemoryTools {
    async fn zone(&self, user_id: Uuid) -> Result<Tz, ErrorData> {
        let u = users::find(&self.state.db, &UserRef::Id(user_id))
            .await
            .map_err(internal)?
            .ok_or_else(|| ErrorData::invalid_request("the user is gone", None))?;
        Ok(user_zone(&u, self.state.settings.default_timezone))
    }

    /// The token's user, their zone, and `phrase` as a range in it.
    async fn scope(
        &self,
        parts: &Parts,
        phrase: Option<&str>,
    ) -> Result<(Uuid, Tz, Option<mnemo_shared::memory::Range>), ErrorData> {
        let user_id = user_of(parts)?;
        let tz = self.zone(user_id).await?;
        Ok((user_id, tz, Self::range(phrase, tz)?))
    }

    fn range(
        phrase: Option<&str>,
        tz: Tz,
    ) -> Result<Option<mnemo_shared::memory::Range>, ErrorData> {
        match phrase.map(str::trim).filter(|p| !p.is_empty()) {
            None => Ok(None),
            Some(p) => {
                resolve_range_phrase(p, tz, Utc::now()).map(|r| Some(r.bounds())).ok_or_else(|| {
                    ErrorData::invalid_params(
                        format!("`range` {p:?} is not a time phrase I know (try `last week`)"),
                        None,
                    )
                })
            }
        }
    }
}

#[tool_router]
impl MemoryTools {
    pub fn new(state: AppState) -> Self {
        MemoryTools { state, tool_router: Self::tool_router() }
    }

    #[tool(
        description = "Search the user's memories (notes, photos, voice notes kept on WhatsApp) by meaning and by word, best first, optionally within a time phrase such as 'last week'."
    )]
    async fn search_memories(
        &self,
        Parameters(args): Parameters<SearchArgs>,
        Extension(parts): Extension<Parts>,
    ) -> Result<CallToolResult, ErrorData> {
        let (user_id, tz, range) = self.scope(&parts, args.range.as_deref()).await?;
        let limit = args.limit.unwrap_or(10).clamp(1, 50) as u64;
        let hits = self
            .state
            .engine
            .search(&self.state.db, user_id, args.query.trim(), range, limit)
            .await
            .map_err(internal)?;
        let ids: Vec<Uuid> = hits.iter().map(|h| h.memory_id).collect();
        let rows = ownership::owned(&self.state.db, user_id, ids).await.map_err(internal)?;
        let items: Vec<serde_json::Value> = hits
            .iter()
            .filter_map(|h| {
                let m = rows.iter().find(|m| m.id == h.memory_id)?;
                let mut v = out(m, tz);
                v["score"] = json!(h.score);
                Some(v)
            })
            .collect();
        Ok(result(json!({ "query": args.query, "items": items })))
    }

    #[tool(
        description = "List the user's memories, newest first, optionally of one kind (text, image, audio, video, document, location) and within a time phrase such as 'this month'."
    )]
    async fn list_memories(
        &self,
        Parameters(args): Parameters<ListArgs>,
        Extension(parts): Extension<Parts>,
    ) -> Result<CallToolResult, ErrorData> {
        let (user_id, tz, range) = self.scope(&parts, args.range.as_deref()).await?;
        if let Some(k) = args.kind.as_deref()
            && !mnemo_shared::ownership::import::KINDS.contains(&k)
        {
            return Err(ErrorData::invalid_params(format!("unknown kind {k:?}"), None));
        }
        let limit = args.limit.unwrap_or(20).clamp(1, 100) as u64;
        let rows = ownership::list(&self.state.db, user_id, args.kind.as_deref(), range, limit)
            .await
            .map_err(internal)?;
        let items: Vec<serde_json::Value> = rows.iter().map(|m| out(m, tz)).collect();
        Ok(result(json!({ "items": items })))
    }

    #[tool(description = "Keep a new note in the user's memories.")]
    async fn add_memory(
        &self,
        Parameters(args): Parameters<AddArgs>,
        Extension(parts): Extension<Parts>,
    ) -> Result<CallToolResult, ErrorData> {
        let user_id = user_of(&parts)?;
        let text = args.text.trim();
        if text.is_empty() || text.chars().count() > 4000 {
            return Err(ErrorData::invalid_params("`text` must be 1 to 4000 characters", None));
        }
        let labels = args.labels.unwrap_or_default();
        let db = &self.state.db;
        let m = ownership::add_text(db, user_id, text, &labels, self.state.engine.name(), "mcp")
            .await
            .map_err(internal)?;
        if let Err(e) = self.state.engine.index(db, &m, None).await {
            tracing::warn!(memory_id = %m.id, error = %e, "MCP memory stored but not indexed yet");
        }
        let tz = self.zone(user_id).await?;
        Ok(result(out(&m, tz)))
    }

    #[tool(description = "Delete one of the user's memories by its id.")]
    async fn forget_memory(
        &self,
        Parameters(args): Parameters<ForgetArgs>,
        Extension(parts): Extension<Parts>,
    ) -> Result<CallToolResult, ErrorData> {
        let user_id = user_of(&parts)?;
        let not_found = || ErrorData::invalid_params(format!("no memory {}", args.id), None);
        let id = Uuid::parse_str(args.id.trim()).map_err(|_| not_found())?;
        let db = &self.state.db;
        let Some(m) = ownership::owned(db, user_id, vec![id]).await.map_err(internal)?.pop() else {
            return Err(not_found());
        };
        self.state.engine.forget(&m).await.map_err(internal)?;
        if let Some(done) = ownership::delete_memory(db, user_id, m.id).await.map_err(internal)? {
            forget::remove_unreferenced(&self.state.media, &done.orphaned_keys).await;
        }
        Ok(result(json!({ "forgotten": m.id })))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for MemoryTools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build()).with_instructions(
            "mnemo keeps the user's notes, photos and voice notes from WhatsApp. Search or list \
             them, add a note, or forget one by id. Times are UTC with the user's local time.",
        )
    }
}

/// `/mcp`: the bearer token first, then rmcp.
pub struct McpEndpoint {
    state: AppState,
    service: Arc<StreamableHttpService<MemoryTools, NeverSessionManager>>,
}

impl McpEndpoint {
    pub fn new(state: AppState) -> Self {
        let tools_state = state.clone();
        // The ingress's own guard checks Host (`ALLOWED_HOSTS`); rmcp's loopback-only default
        // would refuse every public deployment.
        let config = StreamableHttpServerConfig::default()
            .with_legacy_session_mode(false)
            .with_json_response(true)
            .with_sse_keep_alive(None)
            .disable_allowed_hosts();
        let service = StreamableHttpService::new(
            move || Ok(MemoryTools::new(tools_state.clone())),
            Arc::new(NeverSessionManager::default()),
            config,
        );
        McpEndpoint { state, service: Arc::new(service) }
    }
}

impl Endpoint for McpEndpoint {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let header = req.headers().get(poem::http::header::AUTHORIZATION);
        let token = bearer::token(header.and_then(|v| v.to_str().ok())).unwrap_or_default();
        let user = match mcp_tokens::user_of(&self.state.db, token).await {
            Ok(Some(u)) => u,
            Ok(None) => {
                let mut res = ApiError::Unauthorized(
                    "/mcp needs `Authorization: Bearer <token>` with a token from /connect".into(),
                )
                .into_response();
                res.headers_mut().insert(
                    poem::http::header::WWW_AUTHENTICATE,
                    poem::http::HeaderValue::from_static("Bearer"),
                );
                return Ok(res);
            }
            Err(e) => return Ok(ApiError::from(e).into_response()),
        };
        let mut http_req: poem::http::Request<_> = req.into();
        http_req.extensions_mut().insert(McpUser(user));
        let res = self.service.handle(http_req).await;
        let (parts, body) = res.into_parts();
        let body = body
            .map_err(|never: std::convert::Infallible| -> std::io::Error { match never {} })
            .boxed();
        Ok(poem::http::Response::from_parts(parts, body).into())
    }
}
