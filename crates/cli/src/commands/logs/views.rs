//! `--view NAME`: a saved view of the project as the starting query of `logs list` and
//! `logs export`; `--where TEXT`: a typed query, read by the server against the project.

use auditlog_shared::bar::{BarError, ParsedBar};
use auditlog_shared::wire::{BarQuery, SavedView};

use crate::arguments::QueryArguments;
use crate::commands::ProjectSession;

/// Checks the syntax of `--where TEXT` without asking the server, so that a mistake is
/// reported, pointed at, before any request is made.
pub fn check_where(arguments: &QueryArguments) -> anyhow::Result<()> {
    if let Some(text) = &arguments.where_ {
        ParsedBar::parse(text).map_err(|error| pointed(text, &error))?;
    }
    Ok(())
}

/// The text with the offending token underlined, and what is wrong with it.
fn pointed(text: &str, error: &BarError) -> anyhow::Error {
    let before = error.span.start.min(text.chars().count());
    let width = error.span.end.saturating_sub(error.span.start).max(1);
    anyhow::anyhow!(
        "--where: {}\n  {text}\n  {}{}",
        error.message,
        " ".repeat(before),
        "^".repeat(width)
    )
}

/// Replaces `--view NAME` with the saved view's query, and `--where TEXT` with the view the
/// server reads it as, as if either had been given as `--query`. A view's name matches exactly,
/// or else ignoring case when only one view has it.
pub async fn resolve_view(
    session: &ProjectSession,
    arguments: &mut QueryArguments,
) -> anyhow::Result<()> {
    if let Some(text) = arguments.where_.take() {
        let path = session.project_path(&format!(
            "/audit-logs/query?bar={}",
            auditlog_shared::encode_query_component(&text)
        ));
        let read = match session.client.get_json::<BarQuery>(&path).await {
            Ok(answer) => answer.value,
            Err(error) => {
                // A name the project does not know: point at it like a syntax error.
                let span = error
                    .downcast_ref::<crate::client::ProblemError>()
                    .and_then(|problem| problem.problem.invalid_params.first())
                    .and_then(|param| param.span);
                return Err(match span {
                    Some(span) => pointed(
                        &text,
                        &BarError {
                            message: error
                                .downcast_ref::<crate::client::ProblemError>()
                                .and_then(|p| p.problem.detail.clone())
                                .unwrap_or_default(),
                            span: span.start..span.end,
                        },
                    ),
                    None => error,
                });
            }
        };
        arguments.query = Some(read.canonical);
        return Ok(());
    }
    let Some(name) = arguments.view.take() else {
        return Ok(());
    };
    let views = session
        .client
        .get_json::<Vec<SavedView>>(&session.project_path("/saved-views"))
        .await?
        .value;
    let view = find_view(&views, &name)?;
    arguments.query = Some(view.query.clone());
    Ok(())
}

fn find_view<'a>(views: &'a [SavedView], name: &str) -> anyhow::Result<&'a SavedView> {
    if let Some(view) = views.iter().find(|v| v.name == name) {
        return Ok(view);
    }
    let folded: Vec<&SavedView> = views
        .iter()
        .filter(|v| v.name.to_lowercase() == name.to_lowercase())
        .collect();
    match folded.as_slice() {
        [only] => Ok(only),
        [] => {
            let known: Vec<&str> = views.iter().map(|v| v.name.as_str()).collect();
            if known.is_empty() {
                anyhow::bail!("this project has no saved views (save one from the dashboard)")
            }
            anyhow::bail!(
                "no saved view is named “{name}”; the project's views: {}",
                known.join(", ")
            )
        }
        _ => anyhow::bail!(
            "several saved views are named “{name}” in other cases: give the exact name"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(name: &str) -> SavedView {
        SavedView {
            id: 1,
            name: name.into(),
            query: "method.not=GET".into(),
            created_by: "Ada".into(),
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn a_view_is_found_by_its_name_or_its_only_spelling_in_another_case() {
        let views = [view("Deletes"), view("deletes"), view("Writes")];
        assert_eq!(find_view(&views, "deletes").unwrap().name, "deletes");
        assert_eq!(find_view(&views, "WRITES").unwrap().name, "Writes");
        assert!(find_view(&views, "DELETES")
            .unwrap_err()
            .to_string()
            .contains("several"));
        let missing = find_view(&views, "reads").unwrap_err().to_string();
        assert!(missing.contains("Deletes, deletes, Writes"), "{missing}");
        assert!(find_view(&[], "x")
            .unwrap_err()
            .to_string()
            .contains("no saved views"));
    }
}
