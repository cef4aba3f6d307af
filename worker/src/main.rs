//! `mnemo-worker`: a standalone worker process (production: any number of them).
//! `mnemo-worker fetch-models [--from DIR]` installs the local models and exits.

use std::sync::Arc;

use mnemo_shared::config::Settings;
use mnemo_shared::queue::JobQueue;
use mnemo_worker::pipeline::Pipeline;
use mnemo_worker::startup::BoxError;

#[tokio::main]
async fn main() {
    mnemo_worker::startup::main("mnemo-worker", run).await
}

async fn run(settings: Arc<Settings>) -> Result<(), BoxError> {
    let db = mnemo_shared::store::db::connect(&settings).await?;
    if settings.is_sqlite() {
        mnemo_migration::migrate_up(&db).await?;
    }
    let queue = JobQueue::connect(&settings, &db).await?;
    mnemo_shared::monitoring::handle();
    if let Some(addr) = settings.metrics_addr {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on {addr} (METRICS_ADDR): {e}"))?;
        tokio::spawn(mnemo_worker::serve_metrics(
            listener,
            db.clone(),
            settings.metrics_token.clone(),
        ));
    }
    let pipeline = Pipeline::new(db, settings);
    mnemo_worker::models_required(&pipeline).await?;
    mnemo_worker::run(pipeline, queue, mnemo_shared::shutdown::signal()).await
}
