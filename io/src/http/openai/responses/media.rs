//! The `input_image` and `input_file` parts of a request (http.md §3.1-3.2): URL sources
//! counted against `maxUrlParts` in every message, and the active user message's parts read
//! (base64 decoded, or fetched through [`super::fetch`] when the config allows URLs), checked
//! against the MIME allowlists and byte caps. A text file's content goes into the system prompt
//! as a `<file>` block wrapped in external-content markers; images are checked and handed to
//! the model with the turn (base64, their type sniffed from their bytes when it can be). Any
//! failure is one `invalid request` to the client; the reason is logged.

use base64::Engine as _;

use super::fetch::{fetch, FetchPolicy};
use super::request::{Content, Input, Item, Part, ResponsesRequest, Source};
use crate::settings::{InputLimits, ResponsesInputs};
use openclaw_core::wire::agent::ImageInput;

/// What the media parts contribute to the run.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Media {
    /// One `<file …>` block per file of the active message.
    pub file_contexts: Vec<String>,
    /// Images of the active message that passed the checks.
    pub images: Vec<ImageInput>,
}

/// Reads the media of `request`.
pub(crate) async fn gather(request: &ResponsesRequest, active: Option<usize>, limits: &ResponsesInputs) -> Result<Media, String> {
    let Input::Items(items) = &request.input else { return Ok(Media::default()) };
    let mut media = Media::default();
    let mut url_parts = 0usize;
    for (index, item) in items.iter().enumerate() {
        let Item::Message { content: Content::Parts(parts), .. } = item else { continue };
        for part in parts {
            let (source, is_image) = match part {
                Part::Image(s) => (s, true),
                Part::File(s) => (s, false),
                Part::Text(_) => continue,
            };
            if matches!(source, Source::Url(_)) {
                url_parts += 1;
                if url_parts > limits.max_url_parts {
                    return Err(format!("Too many URL-based input sources: {url_parts} (limit: {})", limits.max_url_parts));
                }
            }
            if Some(index) != active {
                continue;
            }
            if is_image {
                media.images.push(image(source, &limits.images, limits.allow_private_network).await?);
            } else {
                media.file_contexts.push(file(source, &limits.files, limits.allow_private_network).await?);
            }
        }
    }
    Ok(media)
}

/// The bytes and declared type of a source.
async fn load(source: &Source, limits: &InputLimits, allow_private: bool, kind: &str) -> Result<(Vec<u8>, Option<String>), String> {
    match source {
        Source::Base64 { media_type, data, .. } => {
            let estimated = (data.len() as u64 / 4) * 3;
            if estimated > limits.max_bytes {
                return Err(format!("{kind} too large: {estimated} bytes (limit: {} bytes)", limits.max_bytes));
            }
            let clean: String = data.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(clean.as_bytes())
                .map_err(|_| format!("{kind} base64 source has invalid 'data' field"))?;
            Ok((bytes, Some(media_type.clone())))
        }
        Source::Url(url) => {
            if !limits.allow_url {
                return Err(format!("{kind} URL sources are disabled by config"));
            }
            let policy = FetchPolicy {
                allowlist: limits.url_allowlist.clone(),
                max_redirects: limits.max_redirects,
                timeout: limits.timeout,
                max_bytes: limits.max_bytes,
                allow_private,
            };
            let fetched = fetch(url, &policy).await.map_err(|e| e.to_string())?;
            Ok((fetched.bytes, fetched.content_type))
        }
    }
}

/// `type/subtype` lowercased, and the charset parameter.
fn mime_of(content_type: Option<&str>) -> (Option<String>, Option<String>) {
    let Some(ct) = content_type else { return (None, None) };
    let mut parts = ct.split(';');
    let mime = parts.next().map(|m| m.trim().to_ascii_lowercase()).filter(|m| !m.is_empty());
    let charset = parts
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("charset"))
        .map(|(_, v)| v.trim().trim_matches('"').to_ascii_lowercase());
    (mime, charset)
}

/// The image type its first bytes say, when they say one.
fn sniff_image(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0x89, b'P', b'N', b'G']) {
        Some("image/png")
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF8") {
        Some("image/gif")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// An image part read and checked (size, MIME allowlist), for the model.
pub(crate) async fn image(source: &Source, limits: &InputLimits, allow_private: bool) -> Result<ImageInput, String> {
    let (bytes, declared) = load(source, limits, allow_private, "Image").await?;
    if bytes.len() as u64 > limits.max_bytes {
        return Err(format!("Image too large: {} bytes (limit: {} bytes)", bytes.len(), limits.max_bytes));
    }
    let declared = mime_of(declared.as_deref()).0.unwrap_or_else(|| "image/png".into());
    let mime = sniff_image(&bytes).map_or(declared, str::to_owned);
    if !limits.allowed_mimes.contains(&mime) {
        return Err(format!("Unsupported image MIME type: {mime}"));
    }
    Ok(ImageInput { mime_type: mime, data: base64::engine::general_purpose::STANDARD.encode(&bytes) })
}

/// A `data:<mime>;base64,<data>` URL as a base64 [`Source`].
pub(crate) fn data_url_source(url: &str) -> Option<Source> {
    let (meta, data) = url.strip_prefix("data:")?.split_once(',')?;
    let media_type = meta.split(';').next().unwrap_or("").trim().to_owned();
    meta.contains(";base64").then(|| Source::Base64 { media_type, data: data.to_owned(), filename: None })
}

async fn file(source: &Source, limits: &InputLimits, allow_private: bool) -> Result<String, String> {
    let filename = match source {
        Source::Base64 { filename: Some(f), .. } if !f.trim().is_empty() => f.clone(),
        _ => "file".to_owned(),
    };
    let (bytes, declared) = load(source, limits, allow_private, "File").await?;
    if bytes.len() as u64 > limits.max_bytes {
        return Err(format!("File too large: {} bytes (limit: {} bytes)", bytes.len(), limits.max_bytes));
    }
    let (mime, charset) = mime_of(declared.as_deref());
    let mime = mime.ok_or("input_file missing media type")?;
    if !limits.allowed_mimes.contains(&mime) {
        return Err(format!("Unsupported file MIME type: {mime}"));
    }
    if mime == "application/pdf" {
        return Err("PDF text extraction is not supported by this gateway".into());
    }
    if charset.as_deref().is_some_and(|c| !matches!(c, "utf-8" | "utf8" | "us-ascii" | "ascii")) {
        tracing::debug!(charset = ?charset, "input_file: decoding as UTF-8");
    }
    let text: String = String::from_utf8_lossy(&bytes).chars().take(usize::try_from(limits.max_chars).unwrap_or(usize::MAX)).collect();
    Ok(file_block(&filename, &text, &marker_id()))
}

fn marker_id() -> String {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        return "0000000000000000".into();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The reference's `renderFileContextBlock({filename, content: wrapExternalContent(text)})`.
fn file_block(filename: &str, text: &str, id: &str) -> String {
    let wrapped = format!(
        "\n<<<EXTERNAL_UNTRUSTED_CONTENT id=\"{id}\">>>\nSource: External\n---\n{}\n<<<END_EXTERNAL_UNTRUSTED_CONTENT id=\"{id}\">>>",
        sanitize(text)
    );
    format!("<file name=\"{}\">\n{}\n</file>", xml_attr(&safe_name(filename)), escape_file_tags(&wrapped))
}

/// Marker look-alikes and model special tokens in untrusted text are defused.
fn sanitize(text: &str) -> String {
    let mut out = text.to_owned();
    for (needle, replacement) in [
        ("<<<END_EXTERNAL_UNTRUSTED_CONTENT", "[[END_MARKER_SANITIZED]]<<<"),
        ("<<<EXTERNAL_UNTRUSTED_CONTENT", "[[MARKER_SANITIZED]]<<<"),
    ] {
        out = replace_ci(&out, needle, replacement);
    }
    for token in ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|system|>", "<|user|>", "<|assistant|>"] {
        out = out.replace(token, "[REMOVED_SPECIAL_TOKEN]");
    }
    out
}

/// Replaces ASCII-case-insensitive matches of `needle` and drops the `<<<` it carried.
fn replace_ci(haystack: &str, needle: &str, replacement: &str) -> String {
    let lower = haystack.to_ascii_lowercase();
    let needle_lower = needle.to_ascii_lowercase();
    let replacement = replacement.trim_end_matches("<<<");
    let mut out = String::with_capacity(haystack.len());
    let mut rest = 0;
    while let Some(pos) = lower[rest..].find(&needle_lower) {
        let start = rest + pos;
        out.push_str(&haystack[rest..start]);
        out.push_str(replacement);
        rest = start + needle.len();
    }
    out.push_str(&haystack[rest..]);
    out
}

fn safe_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("")
        .trim()
        .to_owned();
    if cleaned.is_empty() || cleaned == "." || cleaned == ".." {
        "file".into()
    } else {
        cleaned
    }
}

fn xml_attr(value: &str) -> String {
    value.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
}

/// `</file>` and `<file` inside the content cannot close or open a block.
fn escape_file_tags(value: &str) -> String {
    let mut out = replace_ci(value, "</file>", "&lt;/file&gt;");
    out = replace_ci(&out, "<file", "&lt;file");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_block_is_wrapped_as_the_reference_wraps_it() {
        let block = file_block("notes.txt", "hello <file x> </FILE> <<<EXTERNAL_UNTRUSTED_CONTENT id=\"x\">>>", "ab12");
        assert_eq!(
            block,
            "<file name=\"notes.txt\">\n\n<<<EXTERNAL_UNTRUSTED_CONTENT id=\"ab12\">>>\nSource: External\n---\n\
             hello &lt;file x> &lt;/file&gt; [[MARKER_SANITIZED]] id=\"x\">>>\n<<<END_EXTERNAL_UNTRUSTED_CONTENT id=\"ab12\">>>\n</file>"
        );
        assert_eq!(safe_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_name(""), "file");
        assert_eq!(xml_attr("a\"b"), "a&quot;b");
    }

    #[test]
    fn content_types_and_sniffing() {
        assert_eq!(mime_of(Some("Text/Plain; charset=\"UTF-8\"")), (Some("text/plain".into()), Some("utf-8".into())));
        assert_eq!(mime_of(None), (None, None));
        assert_eq!(sniff_image(&[0x89, b'P', b'N', b'G', 0]), Some("image/png"));
        assert_eq!(sniff_image(b"hello"), None);
    }
}
