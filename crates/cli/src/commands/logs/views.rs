//! `--view NAME`: a saved view of the project as the starting query of `logs list` and
//! `logs export`.

use auditlog_shared::wire::SavedView;

use crate::arguments::QueryArguments;
use crate::commands::ProjectSession;

/// Replaces `--view NAME` with the saved view's query, as if it had been given as `--query`.
/// The name matches exactly, or else ignoring case when only one view has it.
pub async fn resolve_view(
    session: &ProjectSession,
    arguments: &mut QueryArguments,
) -> anyhow::Result<()> {
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
