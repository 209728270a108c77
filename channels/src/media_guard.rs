//! What a local file sent as media may contain, as the reference checks a "host read" (a local
//! file outside the fixed media roots, reached because the file's own directory was allowed):
//! the bytes must be a verified image, audio, video, PDF, Office document or archive (sniffed
//! from their magic numbers, not trusted from the name), or a validated plain-text document
//! (`.txt`, `.csv`, `.md`, `.json`, `.yaml`: decodable text, more than 95 % printable, and no
//! binary signature). Everything else is refused with the reference's words, so a `send` cannot
//! turn the gateway into a reader of `~/.ssh/id_ed25519` or `/etc/shadow`-like files.
//!
//! Pure: bytes and a name in, a verdict out.

/// The reference's text for a declared text type that does not hold validated text.
pub const DECLARED_TEXT_ERROR: &str =
    "LocalMediaAccessError: hostReadCapability permits only validated plain-text documents and trusted generated HTML reports for local reads";

/// Document types a host read may send (when sniffed from the bytes).
const ALLOWED_DOCUMENTS: &[&str] = &[
    "application/msword",
    "application/pdf",
    "application/vnd.ms-excel",
    "application/vnd.ms-excel.sheet.macroenabled.12",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/gzip",
    "application/x-7z-compressed",
    "application/x-tar",
    "application/zip",
    "text/csv",
    "text/markdown",
    "text/plain",
    "application/json",
    "application/yaml",
];

/// Text types a host read may send when the bytes are validated text.
const TEXT_ALIASES: &[&str] = &["text/csv", "text/markdown", "text/plain", "application/json", "application/yaml"];

/// The content type a file's bytes prove (magic numbers), if any.
pub fn sniff(b: &[u8]) -> Option<&'static str> {
    let at = |off: usize, sig: &[u8]| b.len() >= off + sig.len() && &b[off..off + sig.len()] == sig;
    let riff = |kind: &[u8]| at(0, b"RIFF") && at(8, kind);
    Some(match () {
        () if at(0, &[0xFF, 0xD8, 0xFF]) => "image/jpeg",
        () if at(0, b"\x89PNG\r\n\x1a\n") => "image/png",
        () if at(0, b"GIF87a") || at(0, b"GIF89a") => "image/gif",
        () if riff(b"WEBP") => "image/webp",
        () if riff(b"WAVE") => "audio/wav",
        () if riff(b"AVI ") => "video/vnd.avi",
        () if at(0, b"BM") && b.len() >= 26 && at(6, &[0, 0, 0, 0]) => "image/bmp",
        () if at(0, b"II*\0") || at(0, b"MM\0*") => "image/tiff",
        () if at(4, b"ftyp") => ftyp(b.get(8..12).unwrap_or_default()),
        () if at(0, &[0x1A, 0x45, 0xDF, 0xA3]) => {
            if b.windows(4).take(64).any(|w| w == b"webm") {
                "video/webm"
            } else {
                "video/x-matroska"
            }
        }
        () if at(0, b"OggS") => "audio/ogg",
        () if at(0, b"fLaC") => "audio/flac",
        () if at(0, b"ID3") => "audio/mpeg",
        () if at(0, b"#!AMR") => "audio/amr",
        () if at(0, b"MThd") => "audio/midi",
        () if b.len() >= 2 && b[0] == 0xFF && b[1] & 0xF6 == 0xF0 => "audio/aac",
        () if b.len() >= 2 && b[0] == 0xFF && b[1] & 0xE0 == 0xE0 && b[1] & 0x06 != 0 => "audio/mpeg",
        () if at(0, b"%PDF-") => "application/pdf",
        () if at(0, b"PK\x03\x04") => zip_kind(b),
        () if at(0, &[0x1F, 0x8B]) => "application/gzip",
        () if at(0, &[0x37, 0x7A, 0xBC, 0xAF, 0x27, 0x1C]) => "application/x-7z-compressed",
        () if at(257, b"ustar") => "application/x-tar",
        () if at(0, b"Rar!\x1a\x07") => "application/x-rar-compressed",
        () if at(0, &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) => "application/x-cfb",
        () if at(0, b"\x7fELF") => "application/x-elf",
        () => return None,
    })
}

/// An ISO media file by its major brand.
fn ftyp(brand: &[u8]) -> &'static str {
    match brand {
        b"qt  " => "video/quicktime",
        b"M4A " | b"M4B " | b"M4P " => "audio/x-m4a",
        b"heic" | b"heix" | b"mif1" | b"msf1" => "image/heic",
        b"avif" | b"avis" => "image/avif",
        b"3gp4" | b"3gp5" | b"3gp6" | b"3g2a" => "video/3gpp",
        _ => "video/mp4",
    }
}

/// A ZIP, or the Office document it is (by the first entry names it holds).
fn zip_kind(b: &[u8]) -> &'static str {
    let head = &b[..b.len().min(4096)];
    let has = |s: &[u8]| head.windows(s.len()).any(|w| w == s);
    if has(b"word/") {
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    } else if has(b"xl/") {
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    } else if has(b"ppt/") {
        "application/vnd.openxmlformats-officedocument.presentationml.presentation"
    } else {
        "application/zip"
    }
}

/// The content type a name declares (its extension), for the text rules.
pub fn declared(name: &str) -> Option<&'static str> {
    let ext = name.rsplit('/').next()?.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "txt" => "text/plain",
        "csv" => "text/csv",
        "md" | "markdown" => "text/markdown",
        "json" => "application/json",
        "yaml" | "yml" => "application/yaml",
        "html" | "htm" => "text/html",
        _ => return crate::telegram::media::mime_of_name(name),
    })
}

/// Whether `b` is text as the reference validates it: UTF-8 (or single-byte text), more than
/// 95 % printable characters. Empty counts as text.
pub fn validated_text(b: &[u8]) -> bool {
    if b.is_empty() {
        return true;
    }
    let text: String = match std::str::from_utf8(b) {
        Ok(s) => s.to_owned(),
        Err(_) if single_byte_text(b) => b.iter().map(|&c| char::from(c)).collect(),
        Err(_) => return false,
    };
    let (mut printable, mut control) = (0usize, 0usize);
    for c in text.chars() {
        let code = u32::from(c);
        if matches!(code, 9 | 10 | 13 | 32) {
            printable += 1;
        } else if code < 32 || (127..=159).contains(&code) {
            control += 1;
        } else {
            printable += 1;
        }
    }
    let total = printable + control;
    total > 0 && printable * 100 > total * 95
}

fn single_byte_text(b: &[u8]) -> bool {
    let ascii = b.iter().filter(|&&c| matches!(c, 9 | 10 | 13) || (32..=126).contains(&c)).count();
    let control = b.iter().filter(|&&c| c < 32 && !matches!(c, 9 | 10 | 13) || c == 127).count();
    let high = b.len() - ascii - control;
    control == 0 && ascii * 10 >= b.len() * 7 && high * 10 <= b.len() * 3
}

/// `text/plain` only with a `.txt` name; the other text types by any name that declares them.
fn text_alias(mime: &str, name: &str) -> bool {
    TEXT_ALIASES.contains(&mime) && (mime != "text/plain" || name.to_ascii_lowercase().ends_with(".txt"))
}

/// Whether a host read of `name` with bytes `b` may be sent; `Err` is the reference's message.
pub fn check_host_read(name: &str, b: &[u8]) -> Result<(), String> {
    let declared = declared(name);
    let sniffed = sniff(b);
    if let Some(d) = declared.filter(|d| TEXT_ALIASES.contains(d) || *d == "text/html") {
        if d != "text/html" && text_alias(d, name) && sniffed.is_none() && validated_text(b) {
            return Ok(());
        }
        return Err(DECLARED_TEXT_ERROR.to_owned());
    }
    if let Some(s) = sniffed {
        if s.starts_with("image/") || s.starts_with("audio/") || s.starts_with("video/") || ALLOWED_DOCUMENTS.contains(&s) {
            return Ok(());
        }
        let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
        if s == "application/x-cfb" && matches!(ext.as_deref(), Some("doc" | "ppt" | "xls")) {
            return Ok(());
        }
    }
    let normalized = sniffed.or(declared);
    if sniffed.is_none() && normalized.is_some_and(|m| text_alias(m, name)) && validated_text(b) {
        return Ok(());
    }
    if let Some(n) = normalized.filter(|n| sniffed.is_none() && ALLOWED_DOCUMENTS.contains(n) && !n.starts_with("image/")) {
        return Err(format!("LocalMediaAccessError: Host-local media sends require buffer-verified media/document types (got fallback {n})."));
    }
    Err(format!(
        "LocalMediaAccessError: Host-local media sends only allow buffer-verified images, audio, video, PDF, Office documents, archives, and validated plain-text documents (got {}).",
        normalized.unwrap_or("unknown")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    #[test]
    fn sniffs_by_magic_not_by_name() {
        assert_eq!(sniff(PNG), Some("image/png"));
        assert_eq!(sniff(b"\xFF\xD8\xFF\xE0"), Some("image/jpeg"));
        assert_eq!(sniff(b"GIF89a.."), Some("image/gif"));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff(b"\0\0\0\x18ftypmp42"), Some("video/mp4"));
        assert_eq!(sniff(b"\0\0\0\x18ftypM4A "), Some("audio/x-m4a"));
        assert_eq!(sniff(b"OggS\0"), Some("audio/ogg"));
        assert_eq!(sniff(b"ID3\x04"), Some("audio/mpeg"));
        assert_eq!(sniff(b"%PDF-1.7"), Some("application/pdf"));
        assert_eq!(sniff(b"PK\x03\x04....word/document.xml"), Some("application/vnd.openxmlformats-officedocument.wordprocessingml.document"));
        assert_eq!(sniff(b"PK\x03\x04....other"), Some("application/zip"));
        assert_eq!(sniff(b"\x7fELF\x02"), Some("application/x-elf"));
        assert_eq!(sniff(b"root:x:0:0:root:/root:/bin/bash\n"), None);
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn text_is_validated() {
        assert!(validated_text(b"hello\nworld\t!\r\n"));
        assert!(validated_text("grüße, ünïcödé".as_bytes()));
        assert!(validated_text(b""));
        assert!(!validated_text(b"\0\0\0\0binary\x01\x02"));
        assert!(!validated_text(&[0x80, 0x81, 0x82, 0x83]), "not UTF-8 and not single-byte text");
    }

    #[test]
    fn media_and_documents_pass_when_the_bytes_prove_them() {
        assert_eq!(check_host_read("a.png", PNG), Ok(()));
        assert_eq!(check_host_read("noext", PNG), Ok(()), "the bytes decide, not the name");
        assert_eq!(check_host_read("report.pdf", b"%PDF-1.4\n"), Ok(()));
        assert_eq!(check_host_read("a.zip", b"PK\x03\x04rest"), Ok(()));
        assert_eq!(check_host_read("old.doc", b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"), Ok(()));
        assert!(check_host_read("old.msi", b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1").is_err());
    }

    #[test]
    fn text_documents_pass_only_as_validated_text_with_a_text_name() {
        assert_eq!(check_host_read("notes.txt", b"secret text\n"), Ok(()));
        assert_eq!(check_host_read("a.json", b"{\"a\":1}\n"), Ok(()));
        assert_eq!(check_host_read("t.csv", b"a,b\n1,2\n"), Ok(()));
        assert_eq!(check_host_read("r.md", b"# title\n"), Ok(()));
        assert_eq!(check_host_read("bin.txt", b"\0\0\0\x01\x02\x03"), Err(DECLARED_TEXT_ERROR.to_owned()));
        assert_eq!(check_host_read("page.html", b"<html></html>"), Err(DECLARED_TEXT_ERROR.to_owned()));
        assert_eq!(check_host_read("fake.txt", PNG), Err(DECLARED_TEXT_ERROR.to_owned()), "a binary signature under a text name");
    }

    #[test]
    fn anything_else_is_refused_with_the_reference_words() {
        let unknown = check_host_read("secret", b"secret text\n").unwrap_err();
        assert_eq!(
            unknown,
            "LocalMediaAccessError: Host-local media sends only allow buffer-verified images, audio, video, PDF, Office documents, archives, and validated plain-text documents (got unknown)."
        );
        assert!(check_host_read("fake.png", b"secret text\n").unwrap_err().ends_with("(got image/png)."), "a name is not proof");
        assert!(check_host_read("id_ed25519", b"-----BEGIN OPENSSH PRIVATE KEY-----\n").unwrap_err().ends_with("(got unknown)."));
        assert!(check_host_read("a.out", b"\x7fELF\x02\x01").unwrap_err().ends_with("(got application/x-elf)."));
        assert!(check_host_read("fake.pdf", b"not a pdf").unwrap_err().contains("got fallback application/pdf"));
    }
}
