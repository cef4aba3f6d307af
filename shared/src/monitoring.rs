//! Prometheus metrics for both binaries (`/metrics` on the ingress, `METRICS_ADDR` on each
//! worker). One process-wide recorder, installed on first use; the names are the dashboard's
//! and alerting's contract, listed in the README's production section.

use std::sync::OnceLock;
use std::time::Instant;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::clients::external::Service;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Latency buckets in seconds: 1 ms … 60 s.
const BUCKETS: &[f64] =
    &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// Installs the recorder once per process and returns the handle that renders it.
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
            .expect("static buckets are valid")
            .build_recorder();
        let handle = recorder.handle();
        // Another recorder may exist already (a test harness); ours then only renders.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// The Prometheus text exposition of everything recorded so far.
pub fn render() -> String {
    handle().render()
}

/// Records one call to an outside service: latency, and an error counter when it failed.
pub fn external(service: Service, started: Instant, outcome: Result<(), bool>) {
    let name = service.as_str();
    metrics::histogram!("mnemo_external_request_duration_seconds", "service" => name)
        .record(started.elapsed().as_secs_f64());
    if let Err(transient) = outcome {
        let kind = if transient { "transient" } else { "permanent" };
        metrics::counter!("mnemo_external_errors_total", "service" => name, "kind" => kind)
            .increment(1);
    }
}

/// Runs one call to an outside service and records it (see [`external`]).
pub async fn observed<T>(
    service: Service,
    call: impl std::future::Future<Output = Result<T, crate::clients::external::ExternalError>>,
) -> Result<T, crate::clients::external::ExternalError> {
    let started = Instant::now();
    let result = call.await;
    external_result(service, started, &result);
    result
}

/// Shorthand for a client call's result.
fn external_result<T>(
    service: Service,
    started: Instant,
    result: &Result<T, crate::clients::external::ExternalError>,
) {
    external(
        service,
        started,
        match result {
            Ok(_) => Ok(()),
            Err(e) => Err(e.is_transient()),
        },
    );
}

/// How often a scrape may query the database for the gauges read from it.
pub const DB_GAUGES_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Refreshes the gauges read from the database, at most once per [`DB_GAUGES_EVERY`] in this
/// process however often `/metrics` is scraped (a scrape is no way to load the database).
pub async fn record_db_gauges(db: &sea_orm::DatabaseConnection) {
    static LAST: std::sync::Mutex<Option<Instant>> = std::sync::Mutex::new(None);
    {
        let mut last = LAST.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_some_and(|t| t.elapsed() < DB_GAUGES_EVERY) {
            return;
        }
        *last = Some(Instant::now());
    }
    record_queue_depth(db).await;
}

/// Inbound messages not yet processed (received or being processed), from the database.
pub async fn record_queue_depth(db: &sea_orm::DatabaseConnection) {
    if let Ok(n) = crate::store::interactions::unfinished_inbound(db).await {
        metrics::gauge!("mnemo_queue_depth").set(n as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_recorded_metrics() {
        handle();
        metrics::counter!("mnemo_test_counter_total").increment(2);
        external(Service::Twilio, Instant::now(), Err(true));
        let text = render();
        assert!(text.contains("mnemo_test_counter_total 2"), "{text}");
        // Other tests in this process record through the same global recorder (the client
        // tests' errors), so the series is checked, not its count.
        assert!(
            text.contains("mnemo_external_errors_total{service=\"twilio\",kind=\"transient\"} "),
            "{text}"
        );
        assert!(text.contains("mnemo_external_request_duration_seconds_bucket"), "{text}");
    }
}
