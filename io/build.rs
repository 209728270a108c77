//! Embeds the Control UI (`io/ui/`) in the binary: every file as is, gzip-compressed (level 9)
//! and brotli-compressed (quality 11) at build time, listed in `$OUT_DIR/ui_assets.rs` as
//! `(path, raw, gzip, brotli)` for `http::ui::assets`. No Node toolchain: the UI is plain
//! JS modules, HTML and CSS.

use std::io::Write;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let ui = manifest.join("ui");
    println!("cargo:rerun-if-changed=ui");
    let mut files = Vec::new();
    collect(&ui, &ui, &mut files);
    files.sort();
    let mut table = String::from("&[\n");
    for rel in &files {
        let src = ui.join(rel);
        println!("cargo:rerun-if-changed={}", src.display());
        let raw = std::fs::read(&src).expect("read a UI file");
        let name = rel.replace('/', "__");
        let gz_path = out.join(format!("ui-{name}.gz"));
        let br_path = out.join(format!("ui-{name}.br"));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&raw).expect("gzip");
        std::fs::write(&gz_path, gz.finish().expect("gzip")).expect("write gzip");
        let mut br = Vec::new();
        let params = brotli::enc::BrotliEncoderParams { quality: 11, lgwin: 22, ..Default::default() };
        brotli::BrotliCompress(&mut raw.as_slice(), &mut br, &params).expect("brotli");
        std::fs::write(&br_path, br).expect("write brotli");
        table.push_str(&format!(
            "    ({rel:?}, include_bytes!({src:?}), include_bytes!({gz:?}), include_bytes!({br:?})),\n",
            src = src.display().to_string(),
            gz = gz_path.display().to_string(),
            br = br_path.display().to_string(),
        ));
    }
    table.push(']');
    std::fs::write(out.join("ui_assets.rs"), table).expect("write ui_assets.rs");
}

/// Every regular file under `dir`, as a `/`-separated path relative to `root` (dotfiles
/// skipped).
fn collect(root: &Path, dir: &Path, files: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            collect(root, &path, files);
        } else if path.is_file() {
            let rel = path.strip_prefix(root).expect("under root");
            let rel: Vec<String> = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
            files.push(rel.join("/"));
        }
    }
}
