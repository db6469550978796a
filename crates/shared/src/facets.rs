//! [`FacetRequest`]: how a facets request narrows what it lists — one dimension, the values
//! whose value or label contains a text, and how many.
//!
//! Its keys (`facet`, `facet.contains`, `facet.limit`) travel beside the audit query in the same
//! query string: `facets?method.not=GET&facet=action&facet.contains=revoke&facet.limit=50`.
//! [`FacetRequest::split`] takes them off and leaves the audit query for [`AuditQuery::parse`].
//!
//! [`AuditQuery::parse`]: crate::AuditQuery::parse

use crate::dimension::Dimension;
use crate::query::QueryError;
use crate::urlencoding::{decode, encode};

/// Values listed per dimension when the request does not say.
pub const DEFAULT_FACET_LIMIT: u32 = 25;
/// The most values one dimension may list.
pub const MAX_FACET_LIMIT: u32 = 200;
/// The longest `facet.contains` text, in characters.
pub const MAX_FACET_CONTAINS_CHARS: usize = 100;

/// What a facets request lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FacetRequest {
    /// Only this dimension; every dimension when `None`.
    pub dimension: Option<Dimension>,
    /// Only values whose value or label contains this text, ignoring case (needs a dimension).
    /// Stored lowercased.
    pub contains: Option<String>,
    /// Values listed per dimension, most frequent first.
    pub limit: u32,
}

impl Default for FacetRequest {
    fn default() -> FacetRequest {
        FacetRequest {
            dimension: None,
            contains: None,
            limit: DEFAULT_FACET_LIMIT,
        }
    }
}

impl FacetRequest {
    /// Takes the facet keys off a query string. Returns them and the rest of the string, whose
    /// segments stay as they were for the audit query's parser.
    pub fn split(input: &str) -> Result<(FacetRequest, String), QueryError> {
        let input = input.strip_prefix('?').unwrap_or(input);
        let mut request = FacetRequest::default();
        let (mut dimension_seen, mut contains_seen, mut limit_seen) = (false, false, false);
        let mut rest: Vec<&str> = Vec::new();
        for segment in input.split('&').filter(|s| !s.is_empty()) {
            let (raw_key, raw_value) = segment.split_once('=').unwrap_or((segment, ""));
            let Ok(key) = decode(raw_key) else {
                // Not ours to explain: the audit query's parser names the broken fragment.
                rest.push(segment);
                continue;
            };
            if key != "facet" && !key.starts_with("facet.") {
                rest.push(segment);
                continue;
            }
            let value = decode(raw_value).map_err(|reason| QueryError::InvalidValue {
                key: key.clone(),
                value: raw_value.to_string(),
                reason: reason.to_string(),
            })?;
            let invalid = |reason: &str| QueryError::InvalidValue {
                key: key.clone(),
                value: value.clone(),
                reason: reason.to_string(),
            };
            let seen = match key.as_str() {
                "facet" => &mut dimension_seen,
                "facet.contains" => &mut contains_seen,
                "facet.limit" => &mut limit_seen,
                _ => return Err(QueryError::UnknownKey { key }),
            };
            if std::mem::replace(seen, true) {
                return Err(QueryError::Repeated { key });
            }
            match key.as_str() {
                "facet" => {
                    request.dimension = Some(Dimension::from_key(&value).ok_or_else(|| {
                        invalid(
                            "expected a dimension: actor, method, source, action, status, resource_type, application or cluster",
                        )
                    })?);
                }
                "facet.contains" => {
                    let text = value.trim();
                    if text.chars().count() > MAX_FACET_CONTAINS_CHARS {
                        return Err(invalid("longer than 100 characters"));
                    }
                    if text.chars().any(char::is_control) {
                        return Err(invalid("control characters are not allowed"));
                    }
                    request.contains = (!text.is_empty()).then(|| text.to_lowercase());
                }
                _ => {
                    request.limit = value
                        .parse::<u32>()
                        .ok()
                        .filter(|limit| {
                            value.bytes().all(|b| b.is_ascii_digit())
                                && (1..=MAX_FACET_LIMIT).contains(limit)
                        })
                        .ok_or_else(|| invalid("expected a number of values from 1 to 200"))?;
                }
            }
        }
        if request.contains.is_some() && request.dimension.is_none() {
            return Err(QueryError::InvalidValue {
                key: "facet.contains".into(),
                value: request.contains.unwrap_or_default(),
                reason:
                    "searching values needs the dimension they belong to: add facet=<dimension>"
                        .into(),
            });
        }
        Ok((request, rest.join("&")))
    }

    /// The request's keys in the query string's form; empty for the default request.
    pub fn to_query_string(&self) -> String {
        let mut pairs = Vec::new();
        if let Some(dimension) = self.dimension {
            pairs.push(format!("facet={}", dimension.key()));
        }
        if let Some(contains) = &self.contains {
            pairs.push(format!("facet.contains={}", encode(contains)));
        }
        if self.limit != DEFAULT_FACET_LIMIT {
            pairs.push(format!("facet.limit={}", self.limit));
        }
        pairs.join("&")
    }

    /// Whether the request lists `dimension`.
    pub fn lists(&self, dimension: Dimension) -> bool {
        self.dimension.is_none_or(|wanted| wanted == dimension)
    }

    /// Whether a value (as the query string spells it) or its label passes `contains`.
    pub fn matches(&self, value: &str, label: &str) -> bool {
        match &self.contains {
            None => true,
            Some(needle) => {
                value.to_lowercase().contains(needle.as_str())
                    || label.to_lowercase().contains(needle.as_str())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_facet_keys_are_taken_off_and_the_rest_is_left_as_it_was() {
        let (request, rest) = FacetRequest::split(
            "?method.not=GET&facet=action&facet.contains=Revoke%20API&facet.limit=50&q=a%2Bb",
        )
        .unwrap();
        assert_eq!(
            request,
            FacetRequest {
                dimension: Some(Dimension::Action),
                contains: Some("revoke api".into()),
                limit: 50,
            }
        );
        assert_eq!(rest, "method.not=GET&q=a%2Bb");
        let again = FacetRequest::split(&request.to_query_string()).unwrap().0;
        assert_eq!(again, request);
        assert_eq!(FacetRequest::split("").unwrap().0, FacetRequest::default());
        assert_eq!(FacetRequest::default().to_query_string(), "");
    }

    #[test]
    fn bad_facet_parameters_are_refused_with_their_key() {
        for (input, key) in [
            ("facet=colour", "facet"),
            ("facet=actor&facet=method", "facet"),
            ("facet.limit=0", "facet.limit"),
            ("facet.limit=201", "facet.limit"),
            ("facet.limit=+5", "facet.limit"),
            ("facet.contains=abc", "facet.contains"),
            ("facet=action&facet.contains=%00", "facet.contains"),
            ("facet.sort=count", "facet.sort"),
            ("facet=action&facet.contains=%ZZ", "facet.contains"),
        ] {
            let error = FacetRequest::split(input).unwrap_err();
            assert_eq!(error.key(), Some(key), "{input}: {error}");
        }
        let long = format!("facet=actor&facet.contains={}", "x".repeat(101));
        assert!(FacetRequest::split(&long).is_err());
    }

    #[test]
    fn contains_matches_values_and_labels_ignoring_case() {
        let request = FacetRequest::split("facet=action&facet.contains=REVOKE")
            .unwrap()
            .0;
        assert!(request.matches("token.revoke", "Revoke API token"));
        assert!(request.matches("x", "Revoke"));
        assert!(!request.matches("application.delete", "Delete application"));
        assert!(FacetRequest::default().matches("anything", ""));
    }
}
