//! What both binaries do before their own work: read the settings once (exit 2 on a bad one),
//! answer `fetch-models [--from DIR] [--model NAME]` (install the local models and exit), set up
//! logging, run, and exit 1 with the error on a failure.

use std::future::Future;
use std::sync::Arc;

use mnemo_shared::config::Settings;

/// What a binary's `run` may fail with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The `main` of `mnemo-ingress` and `mnemo-worker`; `name` is the binary's, for messages.
pub async fn main<F, Fut>(name: &str, run: F)
where
    F: FnOnce(Arc<Settings>) -> Fut,
    Fut: Future<Output = Result<(), BoxError>>,
{
    let settings = match Settings::from_env() {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("{name}: {e}");
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
        tracing::error!(error = %e, "{name} stopped");
        eprintln!("{name}: {e}");
        std::process::exit(1);
    }
}
