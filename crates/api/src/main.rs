use auditlog_api::configuration::{Cli, Command};
use auditlog_api::startup::Application;
use auditlog_api::{admin, db, telemetry};
use clap::Parser as _;

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
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
