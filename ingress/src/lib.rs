//! The ingress: Twilio webhooks, the REST API (poem-openapi, documented at `/docs`) and, in
//! embedded mode, the worker in the same process.

pub mod access_log;
pub mod api;
pub mod console;
pub mod group_commit;
pub mod guard;
pub mod mcp;
pub mod media;
pub mod problem;
pub mod state;
pub mod status_callback;
pub mod system;
pub mod webhook;

use std::sync::Arc;
use std::time::Duration;

use crate::group_commit::Ingestor;
use mnemo_shared::config::Settings;
use mnemo_shared::queue::JobQueue;
use mnemo_worker::pipeline::Pipeline;
use poem::endpoint::make_sync;
use poem::web::Html;
use poem::{Endpoint, EndpointExt, Response, Route, get, post};
use poem_openapi::OpenApiService;
use tokio::sync::watch;
use tracing::{info, warn};

pub use state::AppState;

/// Builds every route of the ingress.
pub fn app(state: AppState) -> impl poem::Endpoint {
    let api = OpenApiService::new(api::apis(&state), "mnemo", env!("CARGO_PKG_VERSION"))
        .description(
            "WhatsApp memory assistant: webhooks, memories, search and analytics. Every error is \
         `application/problem+json` `{type, title, status, detail}`. With `API_TOKEN` set, the \
         REST endpoints need `Authorization: Bearer <API_TOKEN>`.",
        );
    let generated = api.spec();
    let spec = api::docs::document(&generated);
    let allowed = Arc::new(api::docs::AllowedMethods::from_document(&spec));
    // The Swagger UI page embeds the document: swap in the one with the webhook.
    let ui = api.swagger_ui_html().replacen(&generated, &spec, 1);
    let docs = Route::new().at("/", make_sync(move |_| Html(ui.clone())));
    let spec = make_sync(move |_| {
        Response::builder().content_type("application/json; charset=utf-8").body(spec.clone())
    });
    let hosts = Arc::new(guard::HostPolicy::from_settings(&state.settings));
    let mut routes = Route::new();
    if state.settings.console_enabled {
        routes = routes.nest("/console", console::routes());
    }
    routes
        .at("/webhook", post(webhook::receive).get(webhook::probe).head(webhook::probe))
        .at("/webhook/status", post(status_callback::receive))
        .at(
            "/metrics",
            get(mnemo_worker::prometheus::Scrape::new(
                state.db.clone(),
                state.settings.metrics_token.clone(),
            )),
        )
        .at("/media/:sha256", get(media::serve).head(media::serve))
        .at("/export/:user_id", get(api::ownership::by_link))
        .at("/mcp", mcp::McpEndpoint::new(state.clone()))
        .nest("/docs", docs)
        .at("/openapi.json", spec)
        .nest("/", api)
        .catch_all_error(problem::catch_all)
        .around(move |ep, req| {
            let allowed = allowed.clone();
            async move {
                let path = req.uri().path().to_string();
                let mut res = ep.call(req).await?;
                // RFC 9110: a 405 names the methods the resource supports.
                if res.status() == poem::http::StatusCode::METHOD_NOT_ALLOWED
                    && let Some(methods) = allowed.for_path(&path)
                    && let Ok(v) = poem::http::HeaderValue::from_str(methods)
                {
                    res.headers_mut().insert(poem::http::header::ALLOW, v);
                }
                Ok(res)
            }
        })
        .around(move |ep, req| {
            let hosts = hosts.clone();
            async move {
                if let Some(refused) = guard::check(&hosts, &req) {
                    return Ok(refused);
                }
                ep.call(req).await.map(poem::IntoResponse::into_response)
            }
        })
        .with(access_log::AccessLog)
        .data(state)
}

/// The address to open on this machine for a listener's `addr`: its own, or loopback when it
/// listens on every address (`0.0.0.0`, `[::]`).
pub fn local_base_url(addr: std::net::SocketAddr) -> String {
    let ip = match addr.ip() {
        std::net::IpAddr::V4(v4) if v4.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(v6) if v6.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    format!("http://{}", std::net::SocketAddr::new(ip, addr.port()))
}

/// The most webhooks one group commit records.
const INGEST_MAX_BATCH: usize = 128;

/// Connects the database and queue (migrating SQLite), ready to serve.
pub async fn prepare(
    settings: Arc<Settings>,
) -> Result<AppState, Box<dyn std::error::Error + Send + Sync>> {
    let db = mnemo_shared::store::db::connect(&settings).await?;
    if settings.is_sqlite() {
        mnemo_migration::migrate_up(&db).await?;
    }
    let queue = JobQueue::connect(&settings, &db).await?;
    let pipeline = Pipeline::new(db.clone(), settings.clone());
    mnemo_worker::models_required(&pipeline).await?;
    let (engine, models) = (pipeline.engine, pipeline.models);
    // SQLite has one writer at a time. On PostgreSQL two batches in flight already keep the
    // server busy (measured with bench/webhook.sh: 2 beat 1, 4 and 8); more only makes the
    // batches smaller. The rest of the pool stays with the API and the embedded worker.
    let in_flight = if settings.is_sqlite() {
        1
    } else {
        (settings.database_max_connections as usize / 4).clamp(1, 2)
    };
    let ingest = Ingestor::spawn(db.clone(), queue.clone(), INGEST_MAX_BATCH, in_flight);
    Ok(AppState {
        db,
        queue,
        ingest,
        media: mnemo_shared::media::MediaStore::from_settings(&settings),
        settings,
        engine,
        models,
    })
}

/// Serves on an already-bound listener until `shutdown` flips to true, running the embedded
/// worker alongside when configured. Returns once both have stopped.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let settings = state.settings.clone();
    mnemo_shared::monitoring::handle();
    if settings.api_token.is_none() {
        warn!(
            "API_TOKEN not set: the REST API is OPEN to anyone who can reach {}",
            settings.bind_addr
        );
    } else {
        info!("REST API requires Authorization: Bearer <API_TOKEN>");
    }
    if settings.twilio.is_none() {
        warn!(
            "TWILIO_* not set: signature checks are OFF and replies are dry-run (stored, not sent)"
        );
    }
    let worker = if settings.embedded_worker {
        let pipeline = Pipeline::new(state.db.clone(), settings.clone());
        let queue = state.queue.clone();
        let mut rx = shutdown.clone();
        Some(tokio::spawn(async move {
            let stop = async move {
                let _ = rx.wait_for(|s| *s).await;
            };
            if let Err(e) = mnemo_worker::run(pipeline, queue, stop).await {
                tracing::error!(error = %e, "embedded worker stopped");
            }
        }))
    } else {
        None
    };
    let addr = listener.local_addr()?;
    info!(addr = %addr, public = %settings.public_base_url, "ingress listening");
    if settings.console_enabled {
        let base = local_base_url(addr);
        let token = if settings.api_token.is_some() {
            " (API_TOKEN is set: add ?token=<API_TOKEN> the first time)"
        } else {
            ""
        };
        info!("console: chat at {base}/console/chat, dashboard at {base}/console{token}");
    }
    let mut rx = shutdown.clone();
    // Header-read and body-read timeouts on every connection (see `listener::serve`).
    let result = mnemo_worker::listener::serve(
        listener,
        app(state),
        async move {
            let _ = rx.wait_for(|s| *s).await;
        },
        Duration::from_secs(10),
    )
    .await;
    if let Some(w) = worker {
        let _ = w.await;
    }
    result
}

#[cfg(test)]
mod tests {
    use super::local_base_url;

    #[test]
    fn the_console_address_is_one_to_open_here() {
        let url = |s: &str| local_base_url(s.parse().unwrap());
        assert_eq!(url("127.0.0.1:8000"), "http://127.0.0.1:8000");
        assert_eq!(url("0.0.0.0:8000"), "http://127.0.0.1:8000");
        assert_eq!(url("[::]:8080"), "http://[::1]:8080");
        assert_eq!(url("192.168.1.20:80"), "http://192.168.1.20:80");
    }
}
