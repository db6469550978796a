//! Percent-encoding for the canonical query string.
//!
//! Encoding uses the `percent-encoding` crate. Decoding is strict and written here because the
//! common decoders are lenient: they pass a broken escape such as `%zz` through unchanged and
//! replace invalid UTF-8 with U+FFFD, which would silently turn a malformed link into a different
//! query. Auditlog rejects such input instead.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Everything but the RFC 3986 unreserved characters and `:`, `@`, `/`, `*` (which are legal
/// and readable in a query component; `*` ends an action namespace) is escaped. A space becomes `+`, as in HTML forms.
const VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b':')
    .remove(b'@')
    .remove(b'/')
    .remove(b'*');

/// Encodes one key or value of the query string.
pub(crate) fn encode(text: &str) -> String {
    utf8_percent_encode(text, VALUE)
        .to_string()
        .replace("%20", "+")
}

/// Decodes one key or value: `+` is a space, `%XX` a byte, and the bytes must be UTF-8.
pub(crate) fn decode(text: &str) -> Result<String, &'static str> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let high = bytes.get(i + 1).and_then(|b| hex_digit(*b));
                let low = bytes.get(i + 2).and_then(|b| hex_digit(*b));
                match (high, low) {
                    (Some(high), Some(low)) => out.push(high << 4 | low),
                    _ => return Err("`%` must be followed by two hexadecimal digits"),
                }
                i += 3;
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| "percent-escapes do not form valid UTF-8")
}

fn hex_digit(byte: u8) -> Option<u8> {
    (byte as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_reserved_characters_and_keeps_readable_ones() {
        assert_eq!(encode("a b&c=d%e+f,g"), "a+b%26c%3Dd%25e%2Bf%2Cg");
        assert_eq!(encode("user:12/x@y"), "user:12/x@y");
        assert_eq!(encode("é"), "%C3%A9");
    }

    #[test]
    fn decoding_reverses_encoding() {
        for text in ["a b&c=d%e+f,g", "é✓ 𝄞", "100%", "'\"\\_"] {
            assert_eq!(decode(&encode(text)).as_deref(), Ok(text));
        }
    }

    #[test]
    fn decoding_rejects_broken_escapes_and_invalid_utf8() {
        assert!(decode("%zz").is_err());
        assert!(decode("abc%4").is_err());
        assert!(decode("%").is_err());
        assert!(decode("%FF").is_err());
        assert_eq!(decode("%41+%62").as_deref(), Ok("A b"));
    }
}
