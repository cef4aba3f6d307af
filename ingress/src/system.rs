//! `/health` (the process is up) and `/ready` (database and queue reachable).

use mnemo_shared::store::db;
use poem::web::Data;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags, payload::Json};

use crate::state::AppState;

#[derive(Tags)]
pub enum ApiTags {
    /// Liveness and readiness probes.
    System,
}

#[derive(Object)]
pub struct Health {
    /// `ok`
    pub status: String,
    pub version: String,
}

#[derive(Object)]
pub struct Readiness {
    /// `ready` or `unavailable`
    pub status: String,
    pub database: String,
    pub queue: String,
    /// Local models: each `ready`, `fetching`, `loading`, `missing` or `off`.
    pub models: ModelsReadiness,
}

#[derive(Object)]
pub struct ModelsReadiness {
    /// The sentence-embedding model (recall by meaning); `ready` also when `EMBED_API_BASE`
    /// is used. Until it is ready, questions are answered lexically.
    pub embeddings: String,
    /// Whisper for voice notes (`off` when `TRANSCRIBE_API_BASE` is used instead). Until it
    /// is ready, voice notes are kept untranscribed and transcribed later by the backfill.
    pub whisper: String,
}

#[derive(ApiResponse)]
pub enum ReadyResponse {
    /// Database and queue are reachable.
    #[oai(status = 200)]
    Ready(Json<Readiness>),
    /// Something the service depends on is unreachable.
    #[oai(status = 503)]
    Unavailable(Json<Readiness>),
}

pub struct SystemApi {
    pub state: AppState,
}

#[OpenApi(tag = "ApiTags::System")]
impl SystemApi {
    /// Liveness: the process answers.
    #[oai(path = "/health", method = "get")]
    async fn health(&self) -> Json<Health> {
        Json(Health { status: "ok".into(), version: env!("CARGO_PKG_VERSION").into() })
    }

    /// Readiness: the database and the queue answer.
    #[oai(path = "/ready", method = "get")]
    async fn ready(&self, state: Data<&AppState>) -> ReadyResponse {
        let database = match db::ping(&state.db).await {
            Ok(()) => "ok".to_string(),
            Err(e) => format!("error: {e}"),
        };
        let queue = match state.queue.ping().await {
            Ok(()) => format!("ok ({})", state.queue.kind()),
            Err(e) => format!("error: {e}"),
        };
        let ok = database == "ok" && queue.starts_with("ok");
        let body = Json(Readiness {
            status: if ok { "ready" } else { "unavailable" }.into(),
            database,
            queue,
            models: ModelsReadiness {
                embeddings: state.engine.embeddings.state().as_str().into(),
                whisper: mnemo_shared::clients::transcribe::LocalWhisper::state_for(
                    &state.settings,
                )
                .as_str()
                .into(),
            },
        });
        if ok { ReadyResponse::Ready(body) } else { ReadyResponse::Unavailable(body) }
    }
}
