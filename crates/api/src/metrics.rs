//! Prometheus metrics: what an operator watches — requests by route, method and status class;
//! the capture queue, its batches and commits; requests shed; sign-ins refused; retention; the
//! connection pool.
//!
//! Invariants:
//! * Label values come from fixed sets, never from what a client sent: a route is the pattern
//!   the router matched (or `(unmatched)`), a method one of the standard ones (or `OTHER`), a
//!   status its class. A client cannot add series (or read its own path back) by spelling
//!   requests differently.
//! * `/metrics` is served only when asked for (`routes/metrics.rs`).

use std::sync::LazyLock;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use prometheus::{
    Encoder as _, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec,
    Opts, Registry, TextEncoder,
};

use crate::db::DbPool;

/// Every metric of the server, registered in one registry.
pub struct Metrics {
    registry: Registry,
    /// `auditlog_http_requests_total{route, method, status}`.
    pub http_requests: IntCounterVec,
    /// `auditlog_http_request_duration_seconds{route, method}`.
    pub http_duration: HistogramVec,
    /// `auditlog_capture_batch_entries`: entries per committed batch.
    pub batch_entries: Histogram,
    /// `auditlog_capture_commit_seconds`: appending and committing one batch.
    pub commit_seconds: Histogram,
    /// `auditlog_capture_write_wait_seconds`: how long a state-changing request waited for its
    /// turn on the write side.
    pub write_wait_seconds: Histogram,
    /// `auditlog_capture_entries_total{backend}`: entries committed.
    pub entries_written: IntCounterVec,
    /// `auditlog_capture_failed_batches_total`: batches whose transaction failed.
    pub failed_batches: IntCounter,
    /// `auditlog_requests_shed_total{reason}`: requests answered 503 without being carried out.
    pub shed: IntCounterVec,
    /// `auditlog_sign_in_failures_total` and `auditlog_sign_in_throttled_total`.
    pub sign_in_failures: IntCounter,
    pub sign_in_throttled: IntCounter,
    /// `auditlog_retention_deleted_entries_total`.
    pub retention_deleted: IntCounter,
    /// `auditlog_stream_deliveries_total{outcome}`: deliveries to stream destinations,
    /// `delivered` or `failed`.
    pub stream_deliveries: IntCounterVec,
    /// `auditlog_stream_entries_delivered_total`: entries stream destinations accepted.
    pub stream_entries: IntCounter,
    /// `auditlog_alert_firings_total`: alert firings decided.
    pub alert_firings: IntCounter,
    /// `auditlog_alert_notifications_total{outcome}`: notifications of alert firings sent to
    /// destinations, `delivered` or `failed`.
    pub alert_notifications: IntCounterVec,
    /// Read when scraped: `auditlog_db_pool_connections{state}` and
    /// `auditlog_capture_queue_depth{lane}`.
    pool_connections: IntGaugeVec,
    queue_depth: IntGaugeVec,
}

/// The server's metrics (one set per process).
pub fn metrics() -> &'static Metrics {
    static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);
    &METRICS
}

impl Metrics {
    fn new() -> Metrics {
        let registry = Registry::new();
        let seconds = || {
            vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0,
            ]
        };
        let metrics = Metrics {
            http_requests: IntCounterVec::new(
                Opts::new("auditlog_http_requests_total", "HTTP requests answered."),
                &["route", "method", "status"],
            )
            .expect("a valid metric"),
            http_duration: HistogramVec::new(
                HistogramOpts::new(
                    "auditlog_http_request_duration_seconds",
                    "Time from receiving a request to its response, audit commit included.",
                )
                .buckets(seconds()),
                &["route", "method"],
            )
            .expect("a valid metric"),
            batch_entries: Histogram::with_opts(
                HistogramOpts::new(
                    "auditlog_capture_batch_entries",
                    "Audit entries committed per group-commit transaction.",
                )
                .buckets(vec![
                    1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0,
                ]),
            )
            .expect("a valid metric"),
            commit_seconds: Histogram::with_opts(
                HistogramOpts::new(
                    "auditlog_capture_commit_seconds",
                    "Time to append and commit one group-commit batch.",
                )
                .buckets(seconds()),
            )
            .expect("a valid metric"),
            write_wait_seconds: Histogram::with_opts(
                HistogramOpts::new(
                    "auditlog_capture_write_wait_seconds",
                    "Time a state-changing request waited for its turn on the write side.",
                )
                .buckets(seconds()),
            )
            .expect("a valid metric"),
            entries_written: IntCounterVec::new(
                Opts::new("auditlog_capture_entries_total", "Audit entries committed."),
                &["backend"],
            )
            .expect("a valid metric"),
            failed_batches: IntCounter::new(
                "auditlog_capture_failed_batches_total",
                "Group-commit transactions that failed (their requests were not answered as done).",
            )
            .expect("a valid metric"),
            shed: IntCounterVec::new(
                Opts::new(
                    "auditlog_requests_shed_total",
                    "Requests answered 503 without being carried out.",
                ),
                &["reason"],
            )
            .expect("a valid metric"),
            sign_in_failures: IntCounter::new(
                "auditlog_sign_in_failures_total",
                "Sign-ins refused for a wrong email or password.",
            )
            .expect("a valid metric"),
            sign_in_throttled: IntCounter::new(
                "auditlog_sign_in_throttled_total",
                "Sign-ins refused because of too many recent failures.",
            )
            .expect("a valid metric"),
            retention_deleted: IntCounter::new(
                "auditlog_retention_deleted_entries_total",
                "Audit entries removed by retention.",
            )
            .expect("a valid metric"),
            stream_deliveries: IntCounterVec::new(
                Opts::new(
                    "auditlog_stream_deliveries_total",
                    "Deliveries to stream destinations, by outcome.",
                ),
                &["outcome"],
            )
            .expect("a valid metric"),
            stream_entries: IntCounter::new(
                "auditlog_stream_entries_delivered_total",
                "Audit entries stream destinations accepted.",
            )
            .expect("a valid metric"),
            alert_firings: IntCounter::new(
                "auditlog_alert_firings_total",
                "Alert firings decided.",
            )
            .expect("a valid metric"),
            alert_notifications: IntCounterVec::new(
                Opts::new(
                    "auditlog_alert_notifications_total",
                    "Notifications of alert firings sent to destinations, by outcome.",
                ),
                &["outcome"],
            )
            .expect("a valid metric"),
            pool_connections: IntGaugeVec::new(
                Opts::new(
                    "auditlog_db_pool_connections",
                    "Connections of the database pool, by state.",
                ),
                &["state"],
            )
            .expect("a valid metric"),
            queue_depth: IntGaugeVec::new(
                Opts::new(
                    "auditlog_capture_queue_depth",
                    "Places taken in each writer lane's queue (requests waiting for their commit).",
                ),
                &["lane"],
            )
            .expect("a valid metric"),
            registry,
        };
        let collectors: [Box<dyn prometheus::core::Collector>; 17] = [
            Box::new(metrics.http_requests.clone()),
            Box::new(metrics.http_duration.clone()),
            Box::new(metrics.batch_entries.clone()),
            Box::new(metrics.commit_seconds.clone()),
            Box::new(metrics.write_wait_seconds.clone()),
            Box::new(metrics.entries_written.clone()),
            Box::new(metrics.failed_batches.clone()),
            Box::new(metrics.shed.clone()),
            Box::new(metrics.sign_in_failures.clone()),
            Box::new(metrics.sign_in_throttled.clone()),
            Box::new(metrics.retention_deleted.clone()),
            Box::new(metrics.stream_deliveries.clone()),
            Box::new(metrics.stream_entries.clone()),
            Box::new(metrics.alert_firings.clone()),
            Box::new(metrics.alert_notifications.clone()),
            Box::new(metrics.pool_connections.clone()),
            Box::new(metrics.queue_depth.clone()),
        ];
        for collector in collectors {
            metrics
                .registry
                .register(collector)
                .expect("every metric is registered once");
        }
        // Listed from the start (at 0), so that a dashboard shows them before the first one.
        for reason in ["capture_queue_full", "write_wait"] {
            metrics.shed.with_label_values(&[reason]);
        }
        for outcome in ["delivered", "failed"] {
            metrics.stream_deliveries.with_label_values(&[outcome]);
            metrics.alert_notifications.with_label_values(&[outcome]);
        }
        metrics
    }

    /// The text exposition of every metric, with the gauges read now.
    pub fn render(&self, pool: &DbPool, queue_depths: Vec<usize>) -> String {
        let pool = pool.state();
        self.pool_connections
            .with_label_values(&["idle"])
            .set(i64::from(pool.idle_connections));
        self.pool_connections
            .with_label_values(&["in_use"])
            .set(i64::from(pool.connections - pool.idle_connections));
        for (lane, depth) in queue_depths.into_iter().enumerate() {
            self.queue_depth
                .with_label_values(&[&lane.to_string()])
                .set(i64::try_from(depth).unwrap_or(i64::MAX));
        }
        let mut text = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut text)
            .expect("the text encoder writes to memory");
        String::from_utf8(text).expect("the text format is UTF-8")
    }
}

/// The middleware that counts and times every answer (registered around the whole app).
pub async fn record_request(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let route = request
        .match_pattern()
        .unwrap_or_else(|| "(unmatched)".to_string());
    let method = known_method(request.method());
    let response = next.call(request).await?;
    let status = match response.status().as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    };
    let metrics = metrics();
    metrics
        .http_requests
        .with_label_values(&[&route, method, status])
        .inc();
    metrics
        .http_duration
        .with_label_values(&[&route, method])
        .observe(started.elapsed().as_secs_f64());
    Ok(response)
}

/// The method as a label: a standard method, or `OTHER` (a client may send any token).
fn known_method(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}
