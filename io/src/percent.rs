//! `decodeURIComponent` as the reference uses it on path segments (model ids, canvas
//! capabilities): strict where the `percent-encoding` crate is lenient.

/// `%XX` escapes decoded to UTF-8; `None` for a malformed escape (`%`, `%2`, `%zz`) or bytes
/// that are not UTF-8 — where JavaScript throws `URIError` (the crate would keep the text).
pub(crate) fn decode_uri_component(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let well_formed = bytes
        .iter()
        .enumerate()
        .filter(|&(_, &b)| b == b'%')
        .all(|(i, _)| bytes.get(i + 1..i + 3).is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)));
    if !well_formed {
        return None;
    }
    percent_encoding::percent_decode_str(s).decode_utf8().ok().map(std::borrow::Cow::into_owned)
}

#[cfg(test)]
mod tests {
    use super::decode_uri_component as decode;

    #[test]
    fn strict_like_decode_uri_component() {
        assert_eq!(decode("openclaw%2Fmain").as_deref(), Some("openclaw/main"));
        assert_eq!(decode("openclaw").as_deref(), Some("openclaw"));
        assert_eq!(decode("caf%C3%A9").as_deref(), Some("café"));
        assert_eq!(decode("bad%2"), None);
        assert_eq!(decode("bad%"), None);
        assert_eq!(decode("bad%zz"), None);
        assert_eq!(decode("%%41"), None);
        assert_eq!(decode("%ff"), None);
    }
}
