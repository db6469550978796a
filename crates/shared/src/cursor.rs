//! The opaque keyset-pagination cursor.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

/// A position in the (timestamp, id) order of audit entries, and which way to read from it.
///
/// Clients treat the encoded form as opaque: the server hands out `next` and `previous` cursors
/// with each page and the client sends one back unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cursor {
    pub direction: CursorDirection,
    /// Timestamp of the boundary entry, microseconds since the Unix epoch (UTC).
    pub timestamp_micros: i64,
    /// Id of the boundary entry; breaks ties between entries with equal timestamps.
    pub id: i64,
}

/// Which side of the boundary entry a page lies on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CursorDirection {
    /// Entries strictly older than the boundary: the next page.
    Older,
    /// Entries strictly newer than the boundary: the previous page.
    Newer,
}

impl Cursor {
    /// The opaque, URL-safe form of the cursor.
    pub fn encode(&self) -> String {
        let tag = match self.direction {
            CursorDirection::Older => 'o',
            CursorDirection::Newer => 'n',
        };
        URL_SAFE_NO_PAD.encode(format!("{tag}.{}.{}", self.timestamp_micros, self.id))
    }

    /// Reads a cursor produced by [`Cursor::encode`]; `None` for anything else.
    pub fn decode(text: &str) -> Option<Cursor> {
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        let plain = String::from_utf8(bytes).ok()?;
        let mut parts = plain.split('.');
        let direction = match parts.next()? {
            "o" => CursorDirection::Older,
            "n" => CursorDirection::Newer,
            _ => return None,
        };
        let timestamp_micros = parts.next()?.parse().ok()?;
        let id: i64 = parts.next()?.parse().ok()?;
        if parts.next().is_some() || id < 1 {
            return None;
        }
        let cursor = Cursor {
            direction,
            timestamp_micros,
            id,
        };
        // Only the canonical encoding is accepted, so that one cursor has one spelling.
        (cursor.encode() == text).then_some(cursor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_garbage() {
        let cursor = Cursor {
            direction: CursorDirection::Newer,
            timestamp_micros: 1_764_000_000_123_456,
            id: 42,
        };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        assert_eq!(Cursor::decode("not a cursor"), None);
        assert_eq!(Cursor::decode(&URL_SAFE_NO_PAD.encode("x.1.2")), None);
        assert_eq!(Cursor::decode(&URL_SAFE_NO_PAD.encode("o.1.0")), None);
        assert_eq!(Cursor::decode(&URL_SAFE_NO_PAD.encode("o.1.2.3")), None);
        assert_eq!(Cursor::decode(&URL_SAFE_NO_PAD.encode("o.01.2")), None);
    }
}
