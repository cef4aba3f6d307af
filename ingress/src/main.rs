//! `mnemo-ingress`: with no settings at all, the whole assistant in one process (SQLite, the
//! database queue, the embedded worker, dry-run replies) on 127.0.0.1:8000.
//! `mnemo-ingress fetch-models [--from DIR]` installs the local models and exits.

use std::sync::Arc;

use mnemo_shared::config::Settings;
use mnemo_worker::startup::BoxError;
use tokio::sync::watch;

#[tokio::main]
async fn main() {
    mnemo_worker::startup::main("mnemo-ingress", run).await
}

async fn run(settings: Arc<Settings>) -> Result<(), BoxError> {
    let listener = tokio::net::TcpListener::bind(settings.bind_addr)
        .await
        .map_err(|e| format!("cannot listen on {} (BIND_ADDR): {e}", settings.bind_addr))?;
    let state = mnemo_ingress::prepare(settings).await?;
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        mnemo_shared::shutdown::signal().await;
        let _ = tx.send(true);
    });
    mnemo_ingress::serve(listener, state, rx).await?;
    Ok(())
}
