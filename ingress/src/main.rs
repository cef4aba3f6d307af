//! `mnemo-ingress`: with no settings at all, the whole assistant in one process (SQLite, the
//! database queue, the embedded worker, dry-run replies) on 127.0.0.1:8000.
//! `mnemo-ingress fetch-models [--from DIR]` installs the local models and exits.

use std::sync::Arc;

use mnemo_shared::config::Settings;
use tokio::sync::watch;

#[tokio::main]
async fn main() {
    let settings = match Settings::from_env() {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("mnemo-ingress: {e}");
            std::process::exit(2);
        }
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("fetch-models") {
        std::process::exit(
            mnemo_shared::clients::models::cli::fetch_models(&settings, &args[1..]).await,
        );
    }
    mnemo_shared::telemetry::init(&settings.log_format);
    if let Err(e) = run(settings).await {
        tracing::error!(error = %e, "mnemo-ingress stopped");
        eprintln!("mnemo-ingress: {e}");
        std::process::exit(1);
    }
}

async fn run(settings: Arc<Settings>) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
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
