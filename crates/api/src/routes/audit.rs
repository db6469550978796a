//! The audit log's own endpoints: chain verification and ingest of external events.

use actix_web::{web, HttpRequest, HttpResponse};
use auditlog_shared::wire::{
    IngestBatch, IngestEvent, IngestReceipt, VerifyLine, VerifyProgress, VerifyReport,
};
use auditlog_shared::{ActionKey, FacetRequest, Method, ResourceType, Source};

use crate::audit_log::view::View;
use crate::audit_log::{self, export::ExportFormat, export::EXPORT_CAP};
use crate::audit_query::ValidatedQuery;
use crate::auth::Actor;
use crate::capture;
use crate::capture::access::ProjectAccess;
use crate::catalog;
use crate::db::DbConnection;
use crate::entry::chain;
use crate::entry::draft::{ActorKind, DraftActor, EntryDraft};
use crate::entry::NewAuditEntry;
use crate::error::ApiError;
use crate::routes::{with_project_conn, with_read_conn, ProjectRoutes};
use crate::state::AppState;

/// The most events one ingest request may carry.
pub const MAX_INGEST_EVENTS: usize = 1_000;

pub fn configure(routes: &mut ProjectRoutes) {
    use crate::routes::openapi;
    use auditlog_shared::wire::{
        AuditEntry, AuditPage, BarQuery, ChainLink, ExportManifest, Facets, Histogram, IngestBatch,
        IngestReceipt,
    };

    routes
        .add("audit_log.list", list)
        .parameters(openapi::audit_query_parameters)
        .answers::<AuditPage>()
        .add("audit_log.histogram", histogram)
        .parameters(openapi::audit_query_parameters)
        .answers::<Histogram>()
        .add("audit_log.facets", facets)
        .parameters(openapi::facet_query_parameters)
        .answers::<Facets>()
        .add("audit_log.query", query_bar)
        .parameters(openapi::bar_parameters)
        .answers::<BarQuery>()
        .add("audit_log.verify", verify)
        .parameters(openapi::window_parameters)
        .answers_with(openapi::verify_answer)
        .add("audit_log.entry", entry)
        .answers::<AuditEntry>()
        .add("audit_log.chain_entry", chain_entry)
        .answers::<ChainLink>()
        .add("audit_log.export", export)
        .parameters(openapi::audit_query_parameters)
        .answers_with(openapi::export_answer)
        .add("audit_log.export_manifest", export_manifest)
        .answers::<ExportManifest>()
        .add("audit_log.ingest", ingest)
        .takes::<IngestBatch>()
        .answers::<IngestReceipt>();
}

/// Reads the request's audit query: parsed by the shared model, validated against now and
/// retention.
fn validated(state: &AppState, request: &HttpRequest) -> Result<ValidatedQuery, ApiError> {
    ValidatedQuery::from_query_string(request.query_string(), state.clock.now())
}

/// Every read of the log: plans the validated query for the caller's project on a read
/// connection (a replica, or the primary), then reads it.
async fn read_view<T, F>(
    state: &web::Data<AppState>,
    access: &ProjectAccess,
    validated: ValidatedQuery,
    read: F,
) -> Result<T, ApiError>
where
    F: FnOnce(&mut DbConnection, &View) -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    let project_id = access.project_id;
    with_read_conn(state, move |conn| {
        let view = View::plan(conn, project_id, validated)?;
        read(conn, &view)
    })
    .await
}

/// `GET …/audit-logs?<query>`: a page of entries, newest first.
async fn list(
    state: web::Data<AppState>,
    access: ProjectAccess,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let project_id = access.project_id;
    let page = read_view(
        &state,
        &access,
        validated(&state, &request)?,
        move |conn, view| Ok(audit_log::list(conn, project_id, view)?),
    )
    .await?;
    Ok(HttpResponse::Ok().json(page))
}

/// `GET …/audit-logs/histogram?<query>`: the volume chart.
async fn histogram(
    state: web::Data<AppState>,
    access: ProjectAccess,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (project_id, columns) = (access.project_id, state.columns.clone());
    let started = std::time::Instant::now();
    let (chart, counted_from) = read_view(
        &state,
        &access,
        validated(&state, &request)?,
        move |conn, view| {
            Ok(audit_log::histogram::histogram(
                conn, &columns, project_id, view,
            )?)
        },
    )
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(server_timing(counted_from, started))
        .json(chart))
}

/// `GET …/audit-logs/facets?<query>`: values and counts for the filter pickers; `facet`,
/// `facet.contains` and `facet.limit` narrow it to one dimension's matching values.
async fn facets(
    state: web::Data<AppState>,
    access: ProjectAccess,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (facet_request, audit_query) = FacetRequest::split(request.query_string())?;
    let validated = ValidatedQuery::from_query_string(&audit_query, state.clock.now())?;
    let (project_id, columns) = (access.project_id, state.columns.clone());
    let started = std::time::Instant::now();
    let (facets, counted_from) = read_view(&state, &access, validated, move |conn, view| {
        Ok(audit_log::facets::facets(
            conn,
            &columns,
            project_id,
            view,
            &facet_request,
        )?)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(server_timing(counted_from, started))
        .json(facets))
}

/// `Server-Timing: rollups;dur=1.2` (or `columns`, `entries`): where a count came from and how
/// long reading it took, for the browser's developer tools and for tests.
fn server_timing(
    counted_from: audit_log::CountedFrom,
    started: std::time::Instant,
) -> (&'static str, String) {
    (
        "Server-Timing",
        format!(
            "{};dur={:.1}",
            counted_from.as_str(),
            started.elapsed().as_secs_f64() * 1_000.0
        ),
    )
}

/// `GET …/audit-logs/query?bar=<text>`: a typed query (the dashboard's query bar) read against
/// the project: the canonical query string of its view, names resolved to ids, and the text
/// written back. A text that cannot be read is a 400 whose `invalid_params` entry carries the
/// offending token's character span.
async fn query_bar(
    state: web::Data<AppState>,
    access: ProjectAccess,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let mut text = String::new();
    for pair in request.query_string().split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key != "bar" {
            return Err(ApiError::UnservableQuery {
                param: key.to_string(),
                detail: format!("unknown query parameter `{key}`: this endpoint reads `bar`"),
            });
        }
        text = auditlog_shared::decode_query_component(value).ok_or_else(|| {
            ApiError::UnservableQuery {
                param: "bar".into(),
                detail: "`bar` is not a well-formed percent-encoded UTF-8 value".into(),
            }
        })?;
    }
    let project_id = access.project_id;
    let read = with_read_conn(&state, move |conn| {
        Ok(audit_log::bar::read(conn, project_id, &text)?)
    })
    .await?;
    let (query, bar) = read.map_err(ApiError::InvalidBar)?;
    let canonical = query.to_query_string();
    // The view must also be servable now (a window past retention is refused like elsewhere).
    ValidatedQuery::from_query_string(&canonical, state.clock.now())?;
    Ok(HttpResponse::Ok().json(auditlog_shared::wire::BarQuery { canonical, bar }))
}

/// `GET …/audit-logs/export.{csv|ndjson}?<query>`: the first 10,000 matching entries of the
/// query's window and filters (its page size and cursor are ignored), streamed. The headers say
/// how many entries matched and whether the file was cut.
async fn export(
    state: web::Data<AppState>,
    access: ProjectAccess,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let format = request
        .match_info()
        .get("format")
        .unwrap_or_default()
        .to_string();
    let format = ExportFormat::parse(&format).ok_or_else(|| ApiError::UnservableQuery {
        param: "format".into(),
        detail: format!("unknown export format `{format}`: use export.csv or export.ndjson"),
    })?;
    let mut validated = validated(&state, &request)?;
    validated.query.cursor = None;
    let project_id = access.project_id;
    let columns = state.columns.clone();
    // A disabled export costs nothing: no count of a possibly huge match.
    let export = read_view(&state, &access, validated, move |conn, view| {
        use crate::db::schema::projects;
        use diesel::prelude::*;
        if !crate::routes::projects::load_settings(conn, project_id)?.audit_export_enabled {
            return Ok(None);
        }
        let slug = projects::table
            .find(project_id)
            .select(projects::slug)
            .first::<String>(conn)?;
        let matched = audit_log::count(conn, &columns, project_id, view)?;
        Ok(Some((matched, slug, view.clone())))
    })
    .await?;
    let Some((matched, slug, validated)) = export else {
        return Err(ApiError::Forbidden(
            "audit log export is disabled for this project; a project admin can enable it in Project settings (PATCH /api/v1/projects/{project}/settings with {\"audit_export_enabled\": true})".into(),
        ));
    };
    let rows = matched.min(EXPORT_CAP);
    let day = |t: chrono::DateTime<chrono::Utc>| t.format("%Y%m%dT%H%M%SZ").to_string();
    let filename = format!(
        "auditlog-{slug}-{}-{}.{}",
        day(validated.window.from),
        day(validated.window.to),
        format.extension()
    );
    let export_id = audit_log::export::new_export_id();
    let manifest_path =
        format!("/api/v1/projects/{project_id}/audit-logs/exports/{export_id}/manifest");
    let body = audit_log::export::stream(audit_log::export::ExportJob {
        pool: state.pool.clone(),
        read_pool: state.reads.pool_for_read(),
        project_id,
        validated,
        format,
        rows,
        matched,
        export_id: export_id.clone(),
        signer: state.chain_signer.clone(),
        clock: state.clock.clone(),
    });
    Ok(HttpResponse::Ok()
        .content_type(format.content_type())
        .insert_header((
            "content-disposition",
            format!("attachment; filename=\"{filename}\""),
        ))
        .insert_header(("x-audit-export-matched", matched.to_string()))
        .insert_header(("x-audit-export-rows", rows.to_string()))
        .insert_header(("x-audit-export-truncated", (matched > EXPORT_CAP).to_string()))
        .insert_header(("x-audit-export-id", export_id))
        .insert_header(("link", format!("<{manifest_path}>; rel=\"describedby\"")))
        .insert_header(("access-control-expose-headers", "x-audit-export-matched, x-audit-export-rows, x-audit-export-truncated, x-audit-export-id, link, content-disposition"))
        .streaming(body))
}

/// `GET …/audit-logs/exports/{export_id}/manifest`: the signed manifest of a completed export
/// (its id is the `x-audit-export-id` header of the download). The manifest exists once the
/// whole file was sent; an export cut short has none.
async fn export_manifest(
    state: web::Data<AppState>,
    access: ProjectAccess,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let export_id = request
        .match_info()
        .get("export_id")
        .unwrap_or_default()
        .to_string();
    if !audit_log::export::is_export_id(&export_id) {
        return Err(ApiError::BadRequest {
            detail: "an export id is a lowercase hyphenated UUID, as the `x-audit-export-id` header of the download gives it".into(),
        });
    }
    let project_id = access.project_id;
    let manifest = with_project_conn(&state, &access, move |conn| {
        Ok(audit_log::export::load_manifest(
            conn, project_id, &export_id,
        )?)
    })
    .await?
    // Unknown here: another project's export, one cut short (it has no manifest), or none.
    .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(manifest))
}

/// `GET …/audit-logs/verify?<range>`: proves the window's entries complete and unaltered, or
/// names the first broken link. Takes a date range only.
async fn verify(
    state: web::Data<AppState>,
    access: ProjectAccess,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let validated = ValidatedQuery::from_query_string(request.query_string(), state.clock.now())?;
    if validated.query.has_filters() || validated.query.cursor.is_some() {
        return Err(ApiError::UnservableQuery {
            param: "q".into(),
            detail: "verification covers a whole date range: give only `range` or `from`/`to`"
                .into(),
        });
    }
    let project_id = access.project_id;
    let (from, to) = (
        validated.window.from.timestamp_micros(),
        validated.window.to.timestamp_micros() + 1,
    );
    // The walk finds partial edits in the window; the signatures then find coordinated ones
    // anywhere in the chain (rollback, rewrite, forged appends, removed beginnings, a deleted
    // chain).
    let signer = state.chain_signer.clone();
    let streamed = request
        .headers()
        .get(actix_web::http::header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("application/x-ndjson"));
    let finding = VerificationFinding {
        state: state.clone(),
        facts: crate::routes::session::RequestFacts::of(&request, &state),
        identity: access.identity.clone(),
        project_id,
    };
    if streamed {
        return Ok(HttpResponse::Ok()
            .content_type("application/x-ndjson")
            .streaming(verify_streamed(
                state.pool.clone(),
                project_id,
                (from, to),
                signer,
                finding,
            )));
    }
    // On the primary, never a read replica: the chain head this server signed last may be newer
    // than a replica has replayed, which would read as a rolled-back chain.
    let pool = state.pool.clone();
    let report = web::block(move || -> Result<VerifyReport, ApiError> {
        let mut conn = pool.get()?;
        let conn = &mut *conn;
        // A second connection, when one is idle, reads half of the chain.
        let mut second = pool.try_get();
        Ok(verify_with_signatures(
            conn,
            second.as_deref_mut(),
            project_id,
            (from, to),
            &signer,
            &mut |_| {},
        )?)
    })
    .await??;
    if let Err(error) = finding.record(&report).await {
        // The report still reaches the admin who asked; the log says why it was not recorded.
        tracing::error!(%error, "a failed verification could not be recorded");
    }
    Ok(HttpResponse::Ok().json(report))
}

/// Who ran a verification, to record a broken chain in the project's log.
struct VerificationFinding {
    state: web::Data<AppState>,
    facts: crate::routes::session::RequestFacts,
    identity: crate::auth::Identity,
    project_id: i64,
}

impl VerificationFinding {
    /// Records `audit_log.verification_failed` when the report found a broken link: the finding
    /// names the link and is chained like any entry (alerts can fire on it).
    async fn record(self, report: &VerifyReport) -> Result<(), ApiError> {
        let Some(broken) = report.broken.as_ref().filter(|_| !report.ok) else {
            return Ok(());
        };
        let actor = &self.identity.actor;
        let mut draft = crate::routes::session::account_entry(
            &catalog::VERIFICATION_FAILED,
            &self.facts,
            actor,
            self.project_id,
            self.state.clock.now_micros(),
            200,
            format!(
                "chain position {}: {}",
                broken.chain_seq,
                broken.reason.chars().take(300).collect::<String>()
            ),
        );
        draft.source = self.identity.source;
        draft.resource_id = Some(self.project_id);
        capture::commit_entries(&self.state.writer, vec![draft.into_entry()]).await
    }
}

/// The chain walk over the window, then, when it holds, the check against the signatures.
fn verify_with_signatures(
    conn: &mut crate::db::DbConnection,
    second_reader: Option<&mut crate::db::DbConnection>,
    project_id: i64,
    (from, to): (i64, i64),
    signer: &crate::entry::checkpoint::ChainSigner,
    progress: &mut (dyn FnMut(VerifyProgress) + Send),
) -> diesel::QueryResult<VerifyReport> {
    let report = chain::verify(conn, second_reader, project_id, from, to, progress)?;
    if !report.ok {
        return Ok(report);
    }
    crate::entry::signing::check(conn, project_id, signer, report)
}

/// A verification streamed as NDJSON: a progress line after the first chunk of the walk and then
/// at most twice a second, then the report. A failure midway ends the stream with an error (the client sees
/// no report, never a wrong one).
fn verify_streamed(
    pool: crate::db::DbPool,
    project_id: i64,
    window: (i64, i64),
    signer: std::sync::Arc<crate::entry::checkpoint::ChainSigner>,
    finding: VerificationFinding,
) -> audit_log::ChunkStream {
    let (sender, receiver) = tokio::sync::mpsc::channel(8);
    let runtime = tokio::runtime::Handle::current();
    std::thread::spawn(move || {
        let line = |line: &VerifyLine| {
            let mut bytes = serde_json::to_vec(line).expect("plain data serializes");
            bytes.push(b'\n');
            Ok(web::Bytes::from(bytes))
        };
        let result = (|| -> anyhow::Result<VerifyReport> {
            let mut conn = pool.get()?;
            let mut second = pool.try_get();
            let progress_sender = sender.clone();
            let mut last_sent: Option<std::time::Instant> = None;
            let mut progress = move |progress: VerifyProgress| {
                if last_sent.is_none_or(|at| at.elapsed() >= std::time::Duration::from_millis(500))
                {
                    last_sent = Some(std::time::Instant::now());
                    let _ = progress_sender.blocking_send(line(&VerifyLine::Progress(progress)));
                }
            };
            Ok(verify_with_signatures(
                &mut conn,
                second.as_deref_mut(),
                project_id,
                window,
                &signer,
                &mut progress,
            )?)
        })();
        match result {
            Ok(report) => {
                if let Err(error) = runtime.block_on(finding.record(&report)) {
                    tracing::error!(%error, "a failed verification could not be recorded");
                }
                let _ = sender.blocking_send(line(&VerifyLine::Report(report)));
            }
            Err(error) => {
                tracing::error!(cause_chain = %format!("{error:#}"), "verification failed midway");
                let _ = sender.blocking_send(Err(std::io::Error::other("verification failed")));
            }
        }
    });
    audit_log::ChunkStream(receiver)
}

/// `GET …/audit-logs/entries/{id}`: one entry of the project, for a permalink. Entries past
/// retention are gone, as in every other read.
async fn entry(
    state: web::Data<AppState>,
    access: ProjectAccess,
) -> Result<HttpResponse, ApiError> {
    let (project_id, entry_id) = (access.project_id, access.resource_id.unwrap_or_default());
    let horizon = crate::db::retention_horizon(state.clock.now());
    let entry = with_read_conn(&state, move |conn| {
        Ok(audit_log::entry(conn, project_id, entry_id, horizon)?)
    })
    .await?
    .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(entry))
}

/// `GET …/audit-logs/chain/{chain_seq}`: the entry at one position of the project's chain, its
/// hash and the hash it links to; 404 when no entry is there (retention removed it, or it is
/// missing).
async fn chain_entry(
    state: web::Data<AppState>,
    access: ProjectAccess,
) -> Result<HttpResponse, ApiError> {
    let (project_id, chain_seq) = (access.project_id, access.resource_id.unwrap_or_default());
    let link = with_read_conn(&state, move |conn| {
        use crate::db::schema::audit_entries;
        use diesel::prelude::*;
        Ok(audit_entries::table
            .filter(audit_entries::project_id.eq(project_id))
            .filter(audit_entries::chain_seq.eq(chain_seq))
            .select((
                audit_entries::id,
                audit_entries::prev_hash,
                audit_entries::entry_hash,
            ))
            .first::<(i64, String, String)>(conn)
            .optional()?)
    })
    .await?
    .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(auditlog_shared::wire::ChainLink {
        chain_seq,
        entry_id: link.0,
        prev_hash: link.1,
        entry_hash: link.2,
    }))
}

/// `GET /api/v1/audit-log-keys`: the public keys of the chain signatures. Public: anyone may
/// check a signed head.
pub async fn chain_keys(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(state.chain_signer.public_keys())
}

/// `POST …/ingest`: stores a batch of external events, all or none, in the project's chain.
async fn ingest(
    state: web::Data<AppState>,
    access: ProjectAccess,
    request: HttpRequest,
    body: crate::routes::JsonObject<IngestBatch>,
) -> Result<HttpResponse, ApiError> {
    let events = body.into_inner().events;
    if events.is_empty() || events.len() > MAX_INGEST_EVENTS {
        return Err(ApiError::InvalidField {
            param: "events".into(),
            detail: format!("a batch holds 1 to {MAX_INGEST_EVENTS} events"),
        });
    }
    let now = state.clock.now_micros();
    // Only tokens reach this route (its permission is the token's ingest flag).
    let Actor::Token { id: sender, .. } = access.identity.actor else {
        return Err(ApiError::Forbidden(
            "events are ingested with an API token that may ingest".into(),
        ));
    };
    let entries = events
        .iter()
        .enumerate()
        .map(|(index, event)| ingested_entry(access.project_id, sender, now, index, event))
        .collect::<Result<Vec<_>, _>>()?;
    let accepted = entries.len();
    // The events are stored with the ingest request's own entry, just before it in the chain,
    // or not at all.
    capture::carry_entries(&request, entries);
    Ok(HttpResponse::Ok().json(IngestReceipt { accepted }))
}

fn ingested_entry(
    project_id: i64,
    sender_token_id: i64,
    now: i64,
    index: usize,
    event: &IngestEvent,
) -> Result<NewAuditEntry, ApiError> {
    let invalid = |field: &str, detail: &str| ApiError::InvalidField {
        param: format!("events[{index}].{field}"),
        detail: detail.to_string(),
    };
    // The rule of names (`wire::NAME_PATTERN`): at most `max` characters as sent, something
    // besides whitespace, no control or invisible character inside; stored trimmed.
    let text = |field: &str, value: &str, max: usize| -> Result<String, ApiError> {
        let trimmed = value.trim();
        if trimmed.is_empty()
            || value.chars().count() > max
            || trimmed.chars().any(crate::validation::hides_text)
        {
            return Err(invalid(
                field,
                &format!("must be 1 to {max} characters without control or invisible characters"),
            ));
        }
        Ok(trimmed.to_string())
    };
    let Some(actor_kind) = ActorKind::parse(&event.actor.kind) else {
        return Err(invalid("actor.kind", "must be `user` or `token`"));
    };
    let method: Method = event.method.parse().map_err(|_| {
        invalid(
            "method",
            "must be one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS",
        )
    })?;
    if !event.path.starts_with('/') {
        return Err(invalid("path", "must start with `/`"));
    }
    let action = ActionKey::new(&event.action)
        .filter(|key| {
            key.as_str()
                .strip_prefix(catalog::INGESTED_ACTION_PREFIX)
                .is_some_and(|rest| !rest.is_empty())
        })
        .ok_or_else(|| {
            invalid(
                "action",
                "must be an action key in the `ext.` namespace, such as `ext.billing.invoice_sent`",
            )
        })?;
    if !(100..=599).contains(&event.status) {
        return Err(invalid(
            "status",
            "must be an HTTP status code from 100 to 599",
        ));
    }
    let resource_type: ResourceType = event.resource.kind.parse().map_err(|_| {
        invalid(
            "resource.type",
            "must be a resource type such as `application`",
        )
    })?;
    let duration_us = match event.duration_ms {
        Some(ms) if !(0.0..=86_400_000.0).contains(&ms) => {
            return Err(invalid("duration_ms", "must be from 0 to 86400000"))
        }
        Some(ms) => (ms * 1000.0) as i64,
        None => 0,
    };
    Ok(EntryDraft {
        project_id,
        ts: now,
        actor: DraftActor {
            kind: actor_kind,
            id: None,
            name: text("actor.name", &event.actor.name, 200)?,
            email: event
                .actor
                .email
                .as_deref()
                .map(|email| text("actor.email", email, 254))
                .transpose()?,
        },
        source: Source::Ingest,
        // One of the standard methods, which every HTTP library spells the same.
        method: actix_web::http::Method::from_bytes(method.as_str().as_bytes())
            .map_err(|_| invalid("method", "must be a standard method"))?,
        // The sender's path is stored under the same rules as a captured one: no query value
        // survives, nor anything that looks like a secret.
        path: {
            let path = text("path", &event.path, 2_000)?;
            let (path, query) = path.split_once('?').unwrap_or((&path, ""));
            capture::redaction::stored_path(path, query, false)
        },
        route: catalog::INGESTED_ROUTE.into(),
        action: action.as_str().into(),
        status: event.status,
        resource_type,
        resource_id: event.resource.id,
        resource_name: text("resource.name", &event.resource.name, 200)?,
        client_ip: event
            .client_ip
            .as_deref()
            .map(|ip| {
                ip.parse::<std::net::IpAddr>()
                    .map_err(|_| invalid("client_ip", "must be an IPv4 or IPv6 address"))
            })
            .transpose()?,
        user_agent: event
            .user_agent
            .as_deref()
            .map(|ua| text("user_agent", ua, 512))
            .transpose()?,
        request_id: match &event.request_id {
            Some(id) => text("request_id", id, 100)?,
            None => uuid::Uuid::new_v4().to_string(),
        },
        duration_us,
        ingested_by_token_id: Some(sender_token_id),
        changes: None,
    }
    .into_entry())
}
