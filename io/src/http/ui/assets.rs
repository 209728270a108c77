//! The Control UI embedded in the binary (`io/ui/`, compressed by `io/build.rs`), with a strong
//! ETag per file and encoding (a SHA-256 prefix of the raw bytes, computed once).

use std::sync::OnceLock;

/// `(path, raw, gzip, brotli)` for every file under `io/ui/`, sorted by path.
static FILES: &[(&str, &[u8], &[u8], &[u8])] = include!(concat!(env!("OUT_DIR"), "/ui_assets.rs"));

/// One embedded file.
pub(crate) struct Asset {
    pub path: &'static str,
    pub raw: &'static [u8],
    pub gzip: &'static [u8],
    pub brotli: &'static [u8],
    /// Hex SHA-256 prefix of `raw` (the ETag adds the encoding).
    pub hash: String,
}

fn table() -> &'static [Asset] {
    static TABLE: OnceLock<Vec<Asset>> = OnceLock::new();
    TABLE.get_or_init(|| {
        FILES
            .iter()
            .map(|&(path, raw, gzip, brotli)| {
                let digest = ring::digest::digest(&ring::digest::SHA256, raw);
                let hash = digest.as_ref()[..16].iter().map(|b| format!("{b:02x}")).collect();
                Asset { path, raw, gzip, brotli, hash }
            })
            .collect()
    })
}

/// The embedded file at `path` (relative, `/`-separated).
pub(crate) fn get(path: &str) -> Option<&'static Asset> {
    let table = table();
    table.binary_search_by(|a| a.path.cmp(path)).ok().map(|i| &table[i])
}

/// Every embedded path (for tests and the start-up log).
#[cfg(test)]
pub(crate) fn paths() -> impl Iterator<Item = &'static str> {
    table().iter().map(|a| a.path)
}

/// The body encodings a client accepts, best first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Encoding {
    Brotli,
    Gzip,
    Identity,
}

impl Encoding {
    /// From `Accept-Encoding`: brotli, else gzip, else none (a `q=0` entry is refused).
    pub(crate) fn negotiate(accept: Option<&str>) -> Self {
        let accepts = |name: &str| {
            accept.is_some_and(|v| {
                v.split(',').any(|item| {
                    let mut parts = item.split(';').map(str::trim);
                    let coding = parts.next().unwrap_or_default();
                    let q = parts.find_map(|p| p.strip_prefix("q=")).and_then(|q| q.trim().parse::<f32>().ok());
                    coding.eq_ignore_ascii_case(name) && q.unwrap_or(1.0) > 0.0
                })
            })
        };
        if accepts("br") {
            Self::Brotli
        } else if accepts("gzip") {
            Self::Gzip
        } else {
            Self::Identity
        }
    }

    /// `Content-Encoding` value and ETag suffix.
    pub(crate) fn name(self) -> Option<&'static str> {
        match self {
            Self::Brotli => Some("br"),
            Self::Gzip => Some("gzip"),
            Self::Identity => None,
        }
    }
}

impl Asset {
    /// The body in `encoding`.
    pub(crate) fn body(&self, encoding: Encoding) -> &'static [u8] {
        match encoding {
            Encoding::Brotli => self.brotli,
            Encoding::Gzip => self.gzip,
            Encoding::Identity => self.raw,
        }
    }

    /// The strong ETag of this file in `encoding` (quoted).
    pub(crate) fn etag(&self, encoding: Encoding) -> String {
        match encoding.name() {
            Some(e) => format!("\"{}-{e}\"", self.hash),
            None => format!("\"{}\"", self.hash),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn every_file_is_embedded_with_matching_compressed_copies() {
        let index = get("index.html").expect("index.html embedded");
        assert!(std::str::from_utf8(index.raw).unwrap().contains("<title>OpenClaw"));
        assert!(get("app.js").is_some() && get("nope.js").is_none());
        for path in paths() {
            let a = get(path).unwrap();
            let mut gunzip = Vec::new();
            flate2::read::GzDecoder::new(a.gzip).read_to_end(&mut gunzip).unwrap();
            assert_eq!(gunzip, a.raw, "{path}: gzip");
            let mut unbr = Vec::new();
            brotli::Decompressor::new(a.brotli, 4096).read_to_end(&mut unbr).unwrap();
            assert_eq!(unbr, a.raw, "{path}: brotli");
            assert_ne!(a.etag(Encoding::Gzip), a.etag(Encoding::Identity));
        }
    }

    #[test]
    fn encoding_negotiation() {
        assert_eq!(Encoding::negotiate(Some("gzip, deflate, br, zstd")), Encoding::Brotli);
        assert_eq!(Encoding::negotiate(Some("gzip")), Encoding::Gzip);
        assert_eq!(Encoding::negotiate(Some("br;q=0, gzip;q=0.5")), Encoding::Gzip);
        assert_eq!(Encoding::negotiate(Some("identity")), Encoding::Identity);
        assert_eq!(Encoding::negotiate(None), Encoding::Identity);
    }
}
