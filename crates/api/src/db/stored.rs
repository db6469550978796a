//! Text columns that hold one of an enum's values (a role, a source, a resource type) read
//! through one typed mapping: [`Stored<T>`] in a row reads the column into `T`, and a value the
//! server does not know is an error of the read — never a default that would show a corrupted
//! or tampered row as something it is not.

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::sql_types::Text;

/// An enum stored as text.
pub trait StoredText: Sized {
    /// What the column holds, for the error: `role`, `source` …
    const WHAT: &'static str;
    fn from_stored(text: &str) -> Option<Self>;
}

/// A column value read into `T`; see the module.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromSqlRow)]
pub struct Stored<T>(pub T);

impl<T, DB> FromSql<Text, DB> for Stored<T>
where
    DB: Backend,
    String: FromSql<Text, DB>,
    T: StoredText,
{
    fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
        let text = String::from_sql(bytes)?;
        T::from_stored(&text).map(Stored).ok_or_else(|| {
            format!(
                "the stored {} `{text}` is not one this server knows",
                T::WHAT
            )
            .into()
        })
    }
}

impl StoredText for auditlog_shared::wire::Role {
    const WHAT: &'static str = "role";
    fn from_stored(text: &str) -> Option<Self> {
        Self::parse(text)
    }
}

impl StoredText for auditlog_shared::Source {
    const WHAT: &'static str = "source";
    fn from_stored(text: &str) -> Option<Self> {
        text.parse().ok()
    }
}

impl StoredText for auditlog_shared::ResourceType {
    const WHAT: &'static str = "resource type";
    fn from_stored(text: &str) -> Option<Self> {
        text.parse().ok()
    }
}
