//! [`Dimension`]: the filter dimensions of an audit log view, in canonical order.
//!
//! The query string's keys, the facets the server counts, the OpenAPI parameters and the web
//! app's pickers and chips iterate [`Dimension::ALL`]. (The CLI's flags are still spelled out
//! one by one, as clap fields.)

use std::fmt;

/// One filter dimension of an audit log view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dimension {
    Actor,
    Method,
    Source,
    Action,
    Status,
    ResourceType,
    Application,
    Cluster,
}

impl Dimension {
    /// Every dimension, in the canonical query string's order.
    pub const ALL: [Dimension; 8] = [
        Dimension::Actor,
        Dimension::Method,
        Dimension::Source,
        Dimension::Action,
        Dimension::Status,
        Dimension::ResourceType,
        Dimension::Application,
        Dimension::Cluster,
    ];

    /// The query-string key (`actor`, `resource_type` …); `<key>.not` excludes.
    pub fn key(self) -> &'static str {
        match self {
            Dimension::Actor => "actor",
            Dimension::Method => "method",
            Dimension::Source => "source",
            Dimension::Action => "action",
            Dimension::Status => "status",
            Dimension::ResourceType => "resource_type",
            Dimension::Application => "application",
            Dimension::Cluster => "cluster",
        }
    }

    /// What people call it, as the dashboard's pickers and chips show it.
    pub fn label(self) -> &'static str {
        match self {
            Dimension::Actor => "Actor",
            Dimension::Method => "Method",
            Dimension::Source => "Source",
            Dimension::Action => "Action",
            Dimension::Status => "Status code",
            Dimension::ResourceType => "Resource type",
            Dimension::Application => "Application",
            Dimension::Cluster => "Cluster",
        }
    }

    /// The dimension a query-string key names (without `.not`).
    pub fn from_key(key: &str) -> Option<Dimension> {
        Dimension::ALL.into_iter().find(|d| d.key() == key)
    }
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_reads_back_as_its_dimension() {
        for dimension in Dimension::ALL {
            assert_eq!(Dimension::from_key(dimension.key()), Some(dimension));
        }
        assert_eq!(Dimension::from_key("actor.not"), None);
        assert_eq!(Dimension::from_key("Actor"), None);
    }
}
