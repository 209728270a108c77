//! Media for `sendPhoto` / `sendAnimation` / `sendVideo` / `sendAudio` / `sendDocument`: which
//! method a file goes to (by content type, else by file extension, as the reference picks by
//! MIME), the caption rule (HTML, only if it fits Telegram's 1024-character caption limit;
//! otherwise the media goes uncaptioned and the text follows as its own message), and the
//! `multipart/form-data` body of an upload.

use serde_json::Value;

/// Telegram's caption limit, in characters.
pub const CAPTION_LIMIT: usize = 1024;

/// Which Bot API method a media item goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaKind {
    Photo,
    Animation,
    Video,
    Audio,
    Document,
}

impl MediaKind {
    /// By content type when known, else by the name's extension; `force_document` wins.
    pub fn of(name: &str, content_type: Option<&str>, force_document: bool) -> Self {
        if force_document {
            return Self::Document;
        }
        let mime = content_type.map(|c| c.split(';').next().unwrap_or_default().trim().to_ascii_lowercase());
        let mime = mime.filter(|m| !m.is_empty() && m != "application/octet-stream").or_else(|| mime_of_name(name).map(str::to_owned));
        match mime.as_deref() {
            Some("image/gif") => Self::Animation,
            Some("image/jpeg" | "image/png" | "image/webp") => Self::Photo,
            Some(m) if m.starts_with("video/") => Self::Video,
            Some(m) if m.starts_with("audio/") => Self::Audio,
            _ => Self::Document,
        }
    }

    /// `(method, field)`: `("sendPhoto", "photo")`, …
    pub fn method(self) -> (&'static str, &'static str) {
        match self {
            Self::Photo => ("sendPhoto", "photo"),
            Self::Animation => ("sendAnimation", "animation"),
            Self::Video => ("sendVideo", "video"),
            Self::Audio => ("sendAudio", "audio"),
            Self::Document => ("sendDocument", "document"),
        }
    }
}

/// The content type a file name suggests (its extension, ignoring a URL's query).
pub fn mime_of_name(name: &str) -> Option<&'static str> {
    let path = name.split(['?', '#']).next().unwrap_or_default();
    let file = path.rsplit('/').next().unwrap_or_default();
    let ext = file.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "mp4" | "m4v" => "video/mp4",
        "mov" => "video/quicktime",
        "webm" => "video/webm",
        "mp3" => "audio/mpeg",
        "m4a" => "audio/mp4",
        "ogg" | "oga" | "opus" => "audio/ogg",
        "wav" => "audio/wav",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "json" => "application/json",
        "zip" => "application/zip",
        _ => return None,
    })
}

/// Where a media item comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MediaSource {
    /// An `http(s)` URL, handed to Telegram (it fetches the file).
    Url(String),
    /// File bytes, uploaded as `multipart/form-data`.
    Upload { file_name: String, content_type: String, bytes: Vec<u8> },
}

/// One media item to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Media {
    pub kind: MediaKind,
    pub source: MediaSource,
}

/// Whether `text` can ride as the caption (at most [`CAPTION_LIMIT`] characters, not empty).
pub fn fits_caption(text: &str) -> bool {
    !text.trim().is_empty() && text.chars().count() <= CAPTION_LIMIT
}

/// A `multipart/form-data` body: each string field of `fields` as a text part, then the file
/// as `field`. Returns the content type (with its boundary) and the body.
pub fn multipart(fields: &Value, field: &str, file_name: &str, content_type: &str, bytes: &[u8], boundary: &str) -> (String, Vec<u8>) {
    let mut body = Vec::with_capacity(bytes.len() + 512);
    if let Some(map) = fields.as_object() {
        for (k, v) in map {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Null => continue,
                other @ (Value::Bool(_) | Value::Number(_) | Value::Array(_) | Value::Object(_)) => other.to_string(),
            };
            body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{text}\r\n").as_bytes());
        }
    }
    let safe_name: String = file_name.chars().map(|c| if c == '"' || c == '\r' || c == '\n' || c == '\\' { '_' } else { c }).collect();
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{safe_name}\"\r\nContent-Type: {content_type}\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kinds_by_type_then_name() {
        assert_eq!(MediaKind::of("https://x.test/a.JPG?size=2", None, false), MediaKind::Photo);
        assert_eq!(MediaKind::of("cat.gif", None, false), MediaKind::Animation);
        assert_eq!(MediaKind::of("clip.mp4", None, false), MediaKind::Video);
        assert_eq!(MediaKind::of("note.ogg", None, false), MediaKind::Audio);
        assert_eq!(MediaKind::of("report.pdf", None, false), MediaKind::Document);
        assert_eq!(MediaKind::of("noext", Some("image/png"), false), MediaKind::Photo);
        assert_eq!(MediaKind::of("a.png", Some("application/octet-stream"), false), MediaKind::Photo);
        assert_eq!(MediaKind::of("a.png", None, true), MediaKind::Document);
        assert_eq!(MediaKind::Photo.method(), ("sendPhoto", "photo"));
    }

    #[test]
    fn captions_up_to_the_limit() {
        assert!(fits_caption(&"x".repeat(CAPTION_LIMIT)));
        assert!(!fits_caption(&"x".repeat(CAPTION_LIMIT + 1)));
        assert!(fits_caption(&"é".repeat(CAPTION_LIMIT)), "characters, not bytes");
        assert!(!fits_caption("  "));
    }

    #[test]
    fn multipart_has_fields_then_the_file() {
        let (ct, body) = multipart(&json!({"chat_id": 5, "caption": "hi", "skip": null}), "photo", "a\"b.png", "image/png", b"PNG", "XyZ");
        assert_eq!(ct, "multipart/form-data; boundary=XyZ");
        let text = String::from_utf8(body).unwrap();
        assert!(text.starts_with("--XyZ\r\nContent-Disposition: form-data; name=\""), "{text}");
        assert!(text.contains("--XyZ\r\nContent-Disposition: form-data; name=\"caption\"\r\n\r\nhi\r\n"), "{text}");
        assert!(text.contains("name=\"chat_id\"\r\n\r\n5\r\n"));
        assert!(!text.contains("skip"));
        assert!(text.contains("name=\"photo\"; filename=\"a_b.png\"\r\nContent-Type: image/png\r\n\r\nPNG\r\n--XyZ--\r\n"), "{text}");
    }
}
