use auditlog_api::configuration::{Cli, Command};
use auditlog_api::seed::{demo, synthetic};
use auditlog_api::startup::Application;
use auditlog_api::{admin, db, telemetry};
use clap::Parser as _;

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    if matches!(cli.command, Some(Command::Demo(_))) {
        quiet_request_logs(cli.settings.log_format);
    }
    telemetry::init(cli.settings.log_format);
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(cause_chain = %format!("{error:#}"), "auditlog-server stopped");
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = cli.settings;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Migrate => {
            let target = settings.database_target()?;
            db::connect_and_migrate(&target, 1)?;
            println!("migrations are up to date ({})", target.engine());
            Ok(())
        }
        Command::CreateAdmin(args) => {
            let target = settings.database_target()?;
            let pool = db::connect_and_migrate(&target, 1)?;
            let mut conn = pool.get()?;
            let now = chrono::Utc::now().timestamp_micros();
            let setup = admin::create_admin(
                &mut conn,
                &args.email,
                &args.name,
                &args.password,
                &args.project,
                now,
            )
            .map_err(|error| anyhow::anyhow!("{error}"))?;
            println!(
                "{} is admin of project #{} \"{}\"{}",
                args.email,
                setup.project_id,
                args.project,
                if setup.created_user {
                    " (new account)"
                } else {
                    ""
                }
            );
            Ok(())
        }
        Command::Demo(args) => {
            let options = demo::DemoOptions {
                days: args.days,
                activity: args.activity,
                admin_password: args.password,
            };
            let summary = demo::seed(&settings, &options).await?;
            let sign_in = format!(
                "Demo admin: {} / {}",
                summary.admin_email, summary.admin_password
            );
            // Kept so that scripts/run.sh can show the sign-in again on later runs.
            let credentials = settings.data_dir.join("demo-credentials.txt");
            write_private(&credentials, &format!("{sign_in}\n"))?;
            let span = match (summary.first_entry_at, summary.last_entry_at) {
                (Some(first), Some(last)) => format!(
                    " from {} to {}",
                    first.format("%Y-%m-%d %H:%M UTC"),
                    last.format("%Y-%m-%d %H:%M UTC")
                ),
                _ => String::new(),
            };
            println!(
                "Recorded {} audit entries{span} in project #{} \"{}\" ({} requests).",
                summary.entries,
                summary.project_id,
                demo::DEMO_PROJECT,
                summary.requests
            );
            println!("{sign_in}");
            Ok(())
        }
        Command::BenchSeed(args) => {
            let target = settings.database_target()?;
            let pool = db::connect_and_migrate(&target, 1)?;
            let mut conn = pool.get()?;
            let options = synthetic::SeedOptions {
                entries: args.entries,
                projects: args.projects,
                days: args.days,
                end: args.end.unwrap_or_else(chrono::Utc::now).timestamp_micros(),
                seed: args.seed,
                password: args.password,
            };
            let signer = auditlog_api::entry::checkpoint::ChainSigner::from_settings(
                &settings,
                &settings.resolve_secret_key()?,
            )?;
            let summary = synthetic::seed(&mut conn, &options, &signer)?;
            println!(
                "Generated {} entries in {} projects in {:.1} s ({:.0} entries/s); the largest, #{}, holds {}.",
                summary.entries,
                summary.projects,
                summary.elapsed.as_secs_f64(),
                summary.entries as f64 / summary.elapsed.as_secs_f64(),
                summary.largest_project_id,
                summary.largest_project_entries
            );
            println!(
                "Sign in as {} (admin of every project).",
                synthetic::ADMIN_EMAIL
            );
            Ok(())
        }
        Command::Serve => {
            let application = Application::build(&settings)?;
            let url = application.url();
            tracing::info!(%url, database = %settings.database_url, "serving");
            // Tests and scripts read this line to find the server.
            println!("Auditlog is listening on {url}");
            application.run_until_stopped().await?;
            Ok(())
        }
    }
}

/// Writes a file only its owner may read (it holds a password).
fn write_private(path: &std::path::Path, contents: &str) -> anyhow::Result<()> {
    use anyhow::Context as _;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    std::io::Write::write_all(&mut file, contents.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The demo's server answers thousands of requests, some with 4xx on purpose: unless `RUST_LOG`
/// says otherwise, its per-request warnings stay out of the terminal.
fn quiet_request_logs(format: auditlog_api::configuration::LogFormat) {
    use auditlog_api::configuration::LogFormat;
    if std::env::var_os("RUST_LOG").is_some() {
        return;
    }
    let filter =
        tracing_subscriber::EnvFilter::new("info,actix_server=warn,tracing_actix_web=error");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // `telemetry::init` then keeps this subscriber.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
