//! `GET /metrics`: Prometheus text for this process, served by the ingress and by a standalone
//! worker (`METRICS_ADDR`) alike. With `METRICS_TOKEN` set, only for
//! `Authorization: Bearer <METRICS_TOKEN>` (401 problem+json otherwise). The gauges read from the
//! database are refreshed at most every [`mnemo_shared::monitoring::DB_GAUGES_EVERY`], however
//! often the endpoint is scraped.

use mnemo_shared::config::{ExposeSecret, SecretString};
use mnemo_shared::domain::bearer;
use mnemo_shared::monitoring;
use mnemo_shared::sea_orm::DatabaseConnection;
use poem::http::{StatusCode, header};
use poem::{Endpoint, Request, Response};

/// The one `/metrics` endpoint.
#[derive(Clone)]
pub struct Scrape {
    db: DatabaseConnection,
    token: Option<SecretString>,
}

impl Scrape {
    pub fn new(db: DatabaseConnection, token: Option<SecretString>) -> Self {
        Self { db, token }
    }
}

impl Endpoint for Scrape {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        if let Some(token) = &self.token {
            let given = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
            if !bearer::carries(given, token.expose_secret()) {
                let problem = serde_json::json!({
                    "type": "about:blank",
                    "title": "Unauthorized",
                    "status": 401,
                    "detail": "/metrics needs `Authorization: Bearer <METRICS_TOKEN>`",
                });
                return Ok(Response::builder()
                    .status(StatusCode::UNAUTHORIZED)
                    .header(header::WWW_AUTHENTICATE, "Bearer")
                    .content_type("application/problem+json")
                    .body(problem.to_string()));
            }
        }
        monitoring::record_db_gauges(&self.db).await;
        Ok(Response::builder().content_type("text/plain; version=0.0.4").body(monitoring::render()))
    }
}
