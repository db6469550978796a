//! The columns derived from an entry's recorded fields: the keys filters and facets use for
//! actors and resources, and the lowercased text search matches. They are not covered by the
//! hash (verification recomputes them from the hashed fields instead).

use crate::entry::row::NewAuditEntry;
use auditlog_shared::chain::HashedFields;

/// Fills the derived columns: `actor_key`, `resource_key` and `search_text` (the lowercased
/// fields that search matches).
pub fn with_derived_fields(mut entry: NewAuditEntry) -> NewAuditEntry {
    entry.actor_key = entity_key(&entry.actor_kind, entry.actor_id);
    entry.resource_key = entity_key(&entry.resource_type, entry.resource_id);
    entry.search_text = entry_search_text(&entry);
    entry
}

/// The search text of an entry's fields (see [`search_text`]).
pub fn entry_search_text(entry: &NewAuditEntry) -> String {
    search_text(
        &entry.path,
        entry.actor_email.as_deref(),
        &entry.actor_kind,
        &entry.actor_name,
        &entry.resource_type,
        &entry.resource_name,
    )
}

/// `kind:id`, or `kind:` without an id: the key filters and facets use for actors and resources.
pub fn entity_key(kind: &str, id: Option<i64>) -> String {
    match id {
        Some(id) => format!("{kind}:{id}"),
        None => format!("{kind}:"),
    }
}

/// The text search matches: path, user email, token name, application or cluster name.
pub fn search_text(
    path: &str,
    actor_email: Option<&str>,
    actor_kind: &str,
    actor_name: &str,
    resource_type: &str,
    resource_name: &str,
) -> String {
    search_text_parts(
        path,
        actor_email,
        actor_kind,
        actor_name,
        resource_type,
        resource_name,
    )
    .collect::<Vec<_>>()
    .join("\n")
    .to_lowercase()
}

/// Whether `stored` is the search text of an entry's fields ([`search_text`]), without
/// building it when the fields are ASCII: verification checks every entry of a chain.
pub fn search_text_matches(stored: &str, fields: &HashedFields<'_>) -> bool {
    let parts = || {
        search_text_parts(
            fields.path,
            fields.actor_email,
            fields.actor_kind,
            fields.actor_name,
            fields.resource_type,
            fields.resource_name,
        )
    };
    if !parts().all(|part| part.is_ascii()) {
        return stored == parts().collect::<Vec<_>>().join("\n").to_lowercase();
    }
    let mut rest = stored.as_bytes();
    for (index, part) in parts().enumerate() {
        if index > 0 {
            match rest.split_first() {
                Some((b'\n', tail)) => rest = tail,
                _ => return false,
            }
        }
        let Some((head, tail)) = rest.split_at_checked(part.len()) else {
            return false;
        };
        if !head
            .iter()
            .zip(part.bytes())
            .all(|(stored, field)| *stored == field.to_ascii_lowercase())
        {
            return false;
        }
        rest = tail;
    }
    rest.is_empty()
}

/// The fields of the search text, in order.
fn search_text_parts<'a>(
    path: &'a str,
    actor_email: Option<&'a str>,
    actor_kind: &str,
    actor_name: &'a str,
    resource_type: &str,
    resource_name: &'a str,
) -> impl Iterator<Item = &'a str> + Clone {
    let named_resource = resource_type == "application" || resource_type == "cluster";
    [
        Some(path),
        actor_email,
        (actor_kind == "token").then_some(actor_name),
        named_resource.then_some(resource_name),
    ]
    .into_iter()
    .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_search_text_check_agrees_with_the_search_text() {
        for (path, email, kind, name, resource_type, resource_name) in [
            (
                "/api/v1/Projects/1",
                Some("Ada@Example.com"),
                "user",
                "Ada",
                "application",
                "Web",
            ),
            ("/x", None, "token", "CI Token", "cluster", "EU"),
            ("/x", None, "token", "ΣΟΦΙΑΣ", "cluster", "Ünïcode"),
            ("/", None, "user", "", "member", "ignored"),
        ] {
            let fields = HashedFields {
                path,
                actor_email: email,
                actor_kind: kind,
                actor_name: name,
                resource_type,
                resource_name,
                ..Default::default()
            };
            let text = search_text(path, email, kind, name, resource_type, resource_name);
            assert!(search_text_matches(&text, &fields), "{text:?}");
            for wrong in [
                format!("{text}x"),
                text[..text.len() - 1].to_string(),
                text.to_uppercase(),
                format!("\n{text}"),
                String::new(),
            ] {
                if wrong != text {
                    assert!(!search_text_matches(&wrong, &fields), "{wrong:?}");
                }
            }
        }
    }
}
