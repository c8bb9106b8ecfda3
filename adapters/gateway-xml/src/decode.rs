//! Turning the posted bytes into text: UTF-8 or windows-1251 only, strictly.

use encoding_rs::WINDOWS_1251;

use crate::error::{ReadError, ReadErrorKind};

/// The encodings the contract accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Accepted {
    Utf8,
    Windows1251,
}

/// Decodes a posted document into text.
///
/// The encoding comes from the XML declaration (`encoding="..."`): `UTF-8`,
/// `windows-1251` or its alias `cp1251`, in any case. No declaration, or one
/// without `encoding`, means UTF-8. A UTF-8 byte-order mark is dropped; a
/// UTF-16 or UTF-32 one, any other declared encoding, or bytes invalid in the
/// declared encoding give [`ReadErrorKind::UnsupportedEncoding`].
///
/// The declaration is left in the text as it was. The XML reader used by
/// this crate reads UTF-8 only and ignores the declared encoding, so a
/// declaration that still says `windows-1251` is harmless.
pub fn decode(bytes: &[u8]) -> Result<String, ReadError> {
    if has_wide_signature(bytes) {
        return Err(unsupported("UTF-16 or UTF-32 input is not accepted"));
    }
    let (had_bom, body) = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => (true, rest),
        None => (false, bytes),
    };
    let encoding = match declared_encoding(body) {
        None => Accepted::Utf8,
        Some(label) => accepted(label).ok_or_else(|| {
            unsupported("the declared encoding is not accepted; use UTF-8 or windows-1251")
        })?,
    };
    match encoding {
        Accepted::Utf8 => std::str::from_utf8(body)
            .map(str::to_owned)
            .map_err(|e| unsupported(format!("invalid UTF-8 at byte {}", e.valid_up_to()))),
        Accepted::Windows1251 if had_bom => Err(unsupported(
            "a UTF-8 byte-order mark contradicts the declared windows-1251",
        )),
        // The WHATWG table behind encoding_rs maps 0x98, which windows-1251
        // leaves unassigned, to U+0098; refuse it as Windows does.
        Accepted::Windows1251 => match body.iter().position(|b| *b == 0x98) {
            Some(at) => Err(unsupported(format!(
                "byte {at} is unassigned in windows-1251"
            ))),
            None => WINDOWS_1251
                .decode_without_bom_handling_and_without_replacement(body)
                .map(|text| text.into_owned())
                .ok_or_else(|| unsupported("bytes invalid in windows-1251")),
        },
    }
}

fn unsupported(detail: impl Into<String>) -> ReadError {
    ReadError::new(ReadErrorKind::UnsupportedEncoding, detail)
}

/// UTF-16/32 byte-order marks, and the BOM-less UTF-16/32 forms of `<`.
fn has_wide_signature(bytes: &[u8]) -> bool {
    const SIGNATURES: [&[u8]; 4] = [b"\xFE\xFF", b"\xFF\xFE", b"\x00\x00\xFE\xFF", b"\x00<"];
    SIGNATURES.iter().any(|s| bytes.starts_with(s)) || bytes.starts_with(b"<\x00")
}

fn accepted(label: &[u8]) -> Option<Accepted> {
    let is = |name: &str| label.eq_ignore_ascii_case(name.as_bytes());
    if is("utf-8") {
        Some(Accepted::Utf8)
    } else if is("windows-1251") || is("cp1251") {
        Some(Accepted::Windows1251)
    } else {
        None
    }
}

/// The raw value of `encoding` in a leading `<?xml ...?>` declaration.
///
/// The declaration is ASCII in both accepted encodings, so it can be read
/// from the bytes before decoding. A declaration that cannot be read here is
/// left to the XML reader, which reports it as malformed.
fn declared_encoding(bytes: &[u8]) -> Option<&[u8]> {
    let rest = bytes.strip_prefix(b"<?xml")?;
    if !rest.first().is_some_and(u8::is_ascii_whitespace) {
        return None;
    }
    let end = rest.windows(2).position(|w| w == b"?>")?;
    let mut decl = &rest[..end];
    loop {
        decl = decl.trim_ascii_start();
        let name_len = decl
            .iter()
            .position(|b| *b == b'=' || b.is_ascii_whitespace())?;
        let (name, after) = decl.split_at(name_len);
        let after = after
            .trim_ascii_start()
            .strip_prefix(b"=")?
            .trim_ascii_start();
        let quote = *after.first()?;
        if quote != b'"' && quote != b'\'' {
            return None;
        }
        let value_len = after[1..].iter().position(|b| *b == quote)?;
        let value = &after[1..1 + value_len];
        if name == b"encoding" {
            return Some(value);
        }
        decl = &after[value_len + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CYRILLIC_1251: &[u8] =
        b"<?xml version=\"1.0\" encoding=\"windows-1251\"?><a>\xD7\xC6\xC0\xCD</a>";

    #[test]
    fn utf8_without_declaration() {
        assert_eq!(decode("<a>ЧЖАН</a>".as_bytes()).unwrap(), "<a>ЧЖАН</a>");
    }

    #[test]
    fn utf8_bom_is_dropped() {
        let text = decode(b"\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"utf-8\"?><a/>").unwrap();
        assert!(text.starts_with("<?xml"));
    }

    #[test]
    fn windows_1251_and_its_alias_decode() {
        assert!(decode(CYRILLIC_1251).unwrap().ends_with("<a>ЧЖАН</a>"));
        let alias = b"<?xml version='1.0' encoding='CP1251' standalone='yes'?><a>\xC0</a>";
        assert!(decode(alias).unwrap().ends_with("<a>А</a>"));
    }

    #[test]
    fn declaration_without_encoding_means_utf8() {
        let text = decode("<?xml version=\"1.0\"?><a>Ә</a>".as_bytes()).unwrap();
        assert!(text.ends_with("<a>Ә</a>"));
    }

    #[test]
    fn refuses_other_encodings_and_wide_input() {
        let cases: [&[u8]; 6] = [
            b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a/>",
            b"<?xml version=\"1.0\" encoding=\"UTF-16\"?><a/>",
            b"\xFF\xFE<\x00a\x00/\x00>\x00",
            b"\xFE\xFF\x00<\x00a\x00/\x00>",
            b"<\x00a\x00/\x00>\x00",
            b"\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"windows-1251\"?><a/>",
        ];
        for bytes in cases {
            let error = decode(bytes).unwrap_err();
            assert_eq!(error.kind, ReadErrorKind::UnsupportedEncoding, "{bytes:?}");
        }
    }

    #[test]
    fn refuses_bytes_invalid_in_the_declared_encoding() {
        let bad_utf8 = decode(b"<a>\xD7\xC6</a>").unwrap_err();
        assert_eq!(bad_utf8.kind, ReadErrorKind::UnsupportedEncoding);
        assert_eq!(bad_utf8.detail, "invalid UTF-8 at byte 3");
        // 0x98 is the one byte windows-1251 leaves unassigned.
        let bad_1251 = decode(b"<?xml version=\"1.0\" encoding=\"windows-1251\"?><a>\x98</a>");
        assert_eq!(
            bad_1251.unwrap_err().kind,
            ReadErrorKind::UnsupportedEncoding
        );
    }
}
