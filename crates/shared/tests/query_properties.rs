//! Property tests of the canonical query-string form.

use std::collections::BTreeSet;

use auditlog_shared::{
    ActionKey, ActionMatch, ActorRef, AuditQuery, Cursor, CursorDirection, CustomRange, DateRange,
    EntityId, Filter, Method, PageSize, Preset, RequestId, ResourceType, SearchText, Source,
    StatusMatch,
};
use chrono::{DateTime, Utc};
use proptest::collection::btree_set;
use proptest::prelude::*;
use proptest::sample::select;

fn entity_id() -> impl Strategy<Value = EntityId> + Clone {
    prop_oneof![1i64..50, 1i64..=i64::MAX].prop_map(|id| EntityId::new(id).unwrap())
}

fn actor() -> impl Strategy<Value = ActorRef> + Clone {
    prop_oneof![
        entity_id().prop_map(ActorRef::User),
        entity_id().prop_map(ActorRef::Token)
    ]
}

fn action() -> impl Strategy<Value = ActionMatch> + Clone {
    let key =
        "[a-z0-9_]{1,12}(\\.[a-z0-9_]{1,12}){0,2}".prop_map(|key| ActionKey::new(&key).unwrap());
    (key, any::<bool>()).prop_map(|(key, namespace)| {
        if namespace {
            ActionMatch::Namespace(key)
        } else {
            ActionMatch::Key(key)
        }
    })
}

fn status() -> impl Strategy<Value = StatusMatch> + Clone {
    prop_oneof![
        (100u16..=599).prop_map(StatusMatch::Code),
        (1u8..=5).prop_map(StatusMatch::Class)
    ]
}

/// Include and exclude sets drawn from one pool and made disjoint, as `parse` guarantees.
fn filter<T, S>(values: S) -> impl Strategy<Value = Filter<T>>
where
    T: Ord + Clone + std::fmt::Debug,
    S: Strategy<Value = T> + Clone,
{
    (btree_set(values.clone(), 0..4), btree_set(values, 0..4)).prop_map(
        |(include, exclude): (BTreeSet<T>, BTreeSet<T>)| {
            let exclude = exclude.difference(&include).cloned().collect();
            Filter { include, exclude }
        },
    )
}

fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    // 2000-01-01 to 2100-01-01, whole microseconds.
    (946_684_800_000_000i64..4_102_444_800_000_000)
        .prop_map(|micros| DateTime::from_timestamp_micros(micros).unwrap())
}

fn date_range() -> impl Strategy<Value = DateRange> {
    prop_oneof![
        select(Preset::ALL.to_vec()).prop_map(DateRange::Last),
        (instant(), instant(), 0u8..3).prop_filter_map("empty range", |(a, b, shape)| {
            let (from, to) = (a.min(b), a.max(b));
            let custom = match shape {
                0 => CustomRange::new(Some(from), Some(to)),
                1 => CustomRange::new(Some(from), None),
                _ => CustomRange::new(None, Some(to)),
            };
            custom.ok().map(DateRange::Custom)
        }),
    ]
}

fn search() -> impl Strategy<Value = Option<SearchText>> {
    proptest::option::of(
        prop_oneof!["\\PC{1,40}", "[%_\\\\'\" &=+,#?/:;]{1,10}", "[a-z ]{1,20}"]
            .prop_map(|text| SearchText::new(&text).unwrap()),
    )
}

fn request_id() -> impl Strategy<Value = Option<RequestId>> {
    proptest::option::of(
        prop_oneof![
            "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            "[ -~]{1,100}",
            "\\PC{1,10}"
        ]
        .prop_filter_map("no spaces", |text| RequestId::new(&text).ok()),
    )
}

fn cursor() -> impl Strategy<Value = Option<Cursor>> {
    proptest::option::of((any::<bool>(), any::<i64>(), 1i64..=i64::MAX).prop_map(
        |(older, timestamp_micros, id)| Cursor {
            direction: if older {
                CursorDirection::Older
            } else {
                CursorDirection::Newer
            },
            timestamp_micros,
            id,
        },
    ))
}

prop_compose! {
    fn audit_query()(
        range in date_range(),
        actor in filter(actor()),
        method in filter(select(Method::ALL.to_vec())),
        source in filter(select(Source::ALL.to_vec())),
        action in filter(action()),
        status in filter(status()),
        resource_type in filter(select(ResourceType::ALL.to_vec())),
        application in filter(entity_id()),
        cluster in filter(entity_id()),
        request_id in request_id(),
        search in search(),
        page_size in (1u32..=200).prop_map(|n| PageSize::new(n).unwrap()),
        cursor in cursor(),
    ) -> AuditQuery {
        AuditQuery {
            range, actor, method, source, action, status, resource_type, application, cluster,
            request_id, search, page_size, cursor,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parse_reverses_to_query_string(query in audit_query()) {
        let text = query.to_query_string();
        prop_assert_eq!(AuditQuery::parse(&text), Ok(query));
    }

    #[test]
    fn to_query_string_is_canonical(query in audit_query()) {
        let text = query.to_query_string();
        let again = AuditQuery::parse(&text).unwrap().to_query_string();
        prop_assert_eq!(&again, &text);
        // The canonical form never has empty keys or empty values.
        for pair in text.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap();
            prop_assert!(!key.is_empty() && !value.is_empty(), "{}", pair);
        }
    }

    /// Hand-written spellings of the same view (pairs shuffled, commas, lowercase values,
    /// defaults spelled out, `%20` for spaces) all come back to the one canonical string.
    #[test]
    fn every_spelling_of_a_view_canonicalizes_to_one_string(
        query in audit_query(),
        seed in any::<u64>(),
    ) {
        let canonical = query.to_query_string();
        let mut pairs: Vec<String> = canonical
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|pair| {
                let (key, value) = pair.split_once('=').unwrap();
                let value = match key {
                    "method" | "method.not" | "source" | "source.not" => value.to_lowercase(),
                    "q" => value.replace('+', "%20"),
                    _ => value.to_string(),
                };
                format!("{key}={value}")
            })
            .collect();
        if query.page_size == PageSize::default() {
            pairs.push("limit=50".to_string());
        }
        // A deterministic shuffle keyed by the seed.
        let len = pairs.len();
        for i in (1..len).rev() {
            let j = (seed.wrapping_mul(6364136223846793005).wrapping_add(i as u64) % (i as u64 + 1)) as usize;
            pairs.swap(i, j);
        }
        let respelled = pairs.join("&");
        let parsed = AuditQuery::parse(&respelled);
        prop_assert_eq!(parsed.map(|q| q.to_query_string()), Ok(canonical));
    }

    /// Arbitrary input never panics; whatever parses re-serializes to a fixed point.
    #[test]
    fn arbitrary_input_is_rejected_or_canonicalized(input in "[a-z_.=&%0-9A-F+:,-]{0,60}") {
        if let Ok(query) = AuditQuery::parse(&input) {
            let canonical = query.to_query_string();
            prop_assert_eq!(AuditQuery::parse(&canonical), Ok(query));
        }
    }
}
