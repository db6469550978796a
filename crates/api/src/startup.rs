//! Building and running the server: `Application::build` opens storage, runs migrations and binds
//! the listener (port 0 picks a free port, as tests do); `run_until_stopped` serves.

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::{guard, web, App, HttpServer};
use anyhow::Context as _;
use tracing_actix_web::TracingLogger;

use crate::capture::writer::AuditWriter;
use crate::clock::Clock;
use crate::configuration::Settings;
use crate::db;
use crate::error::extraction_error;
use crate::routes;
use crate::routes::spa::SpaIndex;
use crate::state::AppState;

/// A server that is bound and ready to run.
pub struct Application {
    port: u16,
    host: String,
    server: Server,
    /// The `--metrics-bind` server and its address.
    metrics_server: Option<(Server, std::net::SocketAddr)>,
    /// Delivers to stream destinations while the server runs.
    deliverer: crate::streaming::Deliverer,
}

impl Application {
    pub fn build(settings: &Settings) -> anyhow::Result<Application> {
        Application::build_with_clock(settings, Clock::System)
    }

    /// Builds the server with a given clock (the demo seeder simulates one).
    pub fn build_with_clock(settings: &Settings, clock: Clock) -> anyhow::Result<Application> {
        let target = settings.database_target()?;
        let secret_key = settings.resolve_secret_key()?;
        let pool = db::connect_and_migrate(&target, settings.db_pool_size)?;
        anyhow::ensure!(
            settings.read_database_urls.is_empty()
                || matches!(target, crate::db::DatabaseTarget::Postgres(_)),
            "read replicas (--read-database-url) follow a PostgreSQL primary: the database is SQLite"
        );
        let replicas = settings
            .read_database_urls
            .iter()
            .map(|url| db::connect_read_replica(url, settings.db_pool_size))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let chain_signer = std::sync::Arc::new(
            crate::entry::checkpoint::ChainSigner::from_settings(settings, &secret_key)?,
        );
        {
            let mut conn = pool.get().context("a database connection")?;
            let adopted = crate::entry::signing::adopt_unanchored_heads(&mut conn, &chain_signer)
                .context("cannot sign the chain heads of an older database")?;
            if adopted > 0 {
                tracing::info!(
                    adopted,
                    "signed the chain heads this server had not signed before"
                );
            }
            chain_signer.persist()?;
        }
        crate::entry::checkpoint::ChainSigner::start_persisting(
            chain_signer.clone(),
            std::time::Duration::from_secs(1),
        );
        // SQLite has one writer at a time; PostgreSQL takes several transactions at once.
        let lanes = match target {
            crate::db::DatabaseTarget::Sqlite(_) => 1,
            crate::db::DatabaseTarget::Postgres(_) => (settings.db_pool_size / 2).max(1) as usize,
        };
        let committed = crate::capture::writer::commit_signal();
        let writer = AuditWriter::start(
            pool.clone(),
            target.clone(),
            settings.capture_queue_capacity,
            lanes,
            chain_signer.clone(),
            committed.clone(),
        );
        let streaming = crate::streaming::Streaming::new(
            crate::streaming::network::NetworkPolicy {
                allow_private: settings.stream_allow_private_networks,
            },
            std::time::Duration::from_secs(settings.stream_retry_max_seconds),
            settings.server_id()?,
            committed,
            settings.public_url.clone(),
        );
        let deliverer = crate::streaming::Deliverer {
            streaming: streaming.clone(),
            pool: pool.clone(),
            clock: clock.clone(),
        };
        crate::audit_log::retention::start(pool.clone(), clock.clone(), chain_signer.clone());
        let columns =
            crate::audit_log::columns::ColumnStore::new(!settings.no_memory_columns, clock.clone());
        crate::audit_log::columns::ColumnStore::start_loading(columns.clone(), pool.clone());
        let state = web::Data::new(AppState {
            reads: crate::db::ReadPools::new(pool.clone(), replicas),
            pool,
            database_engine: target.engine(),
            secret_key,
            writer,
            clock,
            password_hashing: std::sync::Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            )),
            sign_in_throttle: Default::default(),
            secure_cookies: settings.secure_cookies(),
            public_url: settings.public_url.clone(),
            trusted_proxies: std::sync::Arc::new(settings.trusted_proxies.clone()),
            metrics_token: settings
                .metrics_token
                .as_ref()
                .map(|token| token.expose().to_string()),
            chain_signer,
            columns,
            streaming,
        });

        let listener = TcpListener::bind(&settings.bind)
            .with_context(|| format!("cannot listen on {}", settings.bind))?;
        let address = listener.local_addr()?;
        let static_dir = settings.static_dir.clone();
        let spa_index = web::Data::new(SpaIndex(static_dir.join("index.html")));
        let security_headers = web::Data::new(crate::security_headers::SecurityHeaders::for_index(
            &static_dir.join("index.html"),
        ));

        let metrics_server = match &settings.metrics_bind {
            Some(bind) => {
                let listener = TcpListener::bind(bind)
                    .with_context(|| format!("cannot listen on {bind} for the metrics"))?;
                let address = listener.local_addr()?;
                let state = state.clone();
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(state.clone())
                        .route("/metrics", web::get().to(crate::routes::metrics::scrape))
                })
                .workers(1)
                .listen(listener)?
                .run();
                Some((server, address))
            }
            None => None,
        };

        let mut server = HttpServer::new(move || {
            let mut app = App::new()
                .wrap(actix_web::middleware::from_fn(crate::security_headers::add))
                .wrap(TracingLogger::default())
                .wrap(actix_web::middleware::Compress::default())
                .wrap(actix_web::middleware::from_fn(
                    crate::metrics::record_request,
                ))
                .app_data(state.clone())
                .app_data(spa_index.clone())
                .app_data(security_headers.clone())
                .app_data(web::JsonConfig::default().error_handler(|error, _| {
                    extraction_error(format!("invalid JSON body: {error}"))
                }))
                .app_data(web::PathConfig::default().error_handler(|error, _| {
                    extraction_error(format!("invalid path parameter: {error}"))
                }))
                .service(routes::resource("/healthz").route(web::get().to(routes::health::healthz)))
                .service(routes::resource("/readyz").route(web::get().to(routes::health::readyz)))
                .service(
                    routes::resource("/api/v1/query/resolve")
                        .route(web::get().to(routes::query::resolve)),
                )
                .service(
                    routes::resource("/metrics")
                        .route(web::get().to(crate::routes::metrics::scrape_with_token)),
                )
                .configure(routes::configure_api);
            if static_dir.is_dir() {
                app = app.service(
                    actix_files::Files::new("/", &static_dir)
                        .index_file("index.html")
                        .prefer_utf8(true)
                        .guard(guard::Any(guard::Get()).or(guard::Head()))
                        .default_handler(routes::spa::fallback),
                );
            }
            app.default_service(web::to(|request: actix_web::HttpRequest| async move {
                crate::error::not_found(&request)
            }))
        })
        // Responses are written in several pieces (headers, then compressed chunks); with
        // Nagle's algorithm a piece after the first waits for the client's delayed ACK, which
        // costs ~40 ms on every kept-alive request. Browsers keep connections alive.
        .on_connect(|connection, _| {
            if let Some(tcp) = connection.downcast_ref::<actix_web::rt::net::TcpStream>() {
                if let Err(error) = tcp.set_nodelay(true) {
                    tracing::debug!(%error, "TCP_NODELAY could not be set");
                }
            }
        })
        .listen(listener)?;
        if let Some(workers) = settings.workers {
            server = server.workers(workers);
        }

        Ok(Application {
            port: address.port(),
            host: address.ip().to_string(),
            server: server.run(),
            metrics_server,
            deliverer,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The address clients reach the server at.
    pub fn url(&self) -> String {
        format!("http://{}:{}", self.host, self.port)
    }

    /// The address of the `--metrics-bind` server, when there is one.
    pub fn metrics_url(&self) -> Option<String> {
        self.metrics_server
            .as_ref()
            .map(|(_, address)| format!("http://{address}"))
    }

    /// Serves, and delivers to stream destinations, until the server stops (or this future is
    /// dropped: the deliveries stop with it).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let deliveries = tokio::spawn(self.deliverer.run());
        let _stop_deliveries = AbortOnDrop(deliveries);
        match self.metrics_server {
            Some((metrics, _)) => tokio::try_join!(self.server, metrics).map(|_| ()),
            None => self.server.await,
        }
    }
}

/// Aborts a background task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
