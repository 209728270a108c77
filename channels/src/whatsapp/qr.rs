//! The login QR, rendered two ways: for a terminal (`openclaw channels login`: half-block
//! characters, two module rows per line) and as the `data:image/png;base64,…` URL the
//! reference's `web.login.*` answers carry (apps show it as an image). The QR matrix comes from
//! the `qrcode` crate; the PNG (8-bit grayscale, zlib by `miniz_oxide`) is written here.

use base64::Engine as _;
use qrcode::{Color, QrCode};

/// Quiet zone around the code, in modules (the QR standard asks for 4).
const QUIET: usize = 4;
/// Pixels per module in the PNG.
const SCALE: usize = 6;

/// The module matrix with its quiet zone: `true` = dark.
fn matrix(data: &str) -> Result<(usize, Vec<bool>), String> {
    let code = QrCode::new(data.as_bytes()).map_err(|e| format!("cannot encode the QR: {e}"))?;
    let w = code.width();
    let colors = code.to_colors();
    let size = w + 2 * QUIET;
    let mut out = vec![false; size * size];
    for y in 0..w {
        for x in 0..w {
            out[(y + QUIET) * size + x + QUIET] = colors[y * w + x] == Color::Dark;
        }
    }
    Ok((size, out))
}

/// The QR for a terminal: light modules drawn as blocks (so it reads right on the usual dark
/// background), two rows of modules per line.
pub fn terminal(data: &str) -> Result<String, String> {
    let (size, m) = matrix(data)?;
    let light = |x: usize, y: usize| y >= size || !m[y * size + x];
    let mut out = String::new();
    for y in (0..size).step_by(2) {
        for x in 0..size {
            out.push(match (light(x, y), light(x, y + 1)) {
                (true, true) => '█',
                (true, false) => '▀',
                (false, true) => '▄',
                (false, false) => ' ',
            });
        }
        out.push('\n');
    }
    Ok(out)
}

/// The QR as a PNG data URL (`data:image/png;base64,…`).
pub fn png_data_url(data: &str) -> Result<String, String> {
    let (size, m) = matrix(data)?;
    let px = size * SCALE;
    let mut raw = Vec::with_capacity(px * (px + 1));
    for y in 0..px {
        raw.push(0u8); // filter: none
        for x in 0..px {
            raw.push(if m[(y / SCALE) * size + x / SCALE] { 0 } else { 255 });
        }
    }
    let dim = u32::try_from(px).map_err(|_| "QR too large".to_owned())?;
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&dim.to_be_bytes());
    ihdr.extend_from_slice(&dim.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit grayscale, deflate, no filter, no interlace
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(&mut png, b"IDAT", &miniz_oxide::deflate::compress_to_vec_zlib(&raw, 9));
    chunk(&mut png, b"IEND", &[]);
    Ok(format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(png)))
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_terminal_qr_is_square_with_its_quiet_zone() {
        let text = terminal("2@abc,def,ghi,jkl").expect("qr");
        let lines: Vec<&str> = text.lines().collect();
        let width = lines[0].chars().count();
        assert_eq!(lines.len(), width.div_ceil(2), "two module rows per line");
        assert!(lines[0].chars().all(|c| c == '█'), "the quiet zone is light");
        assert!(text.contains(' ') || text.contains('▀'), "dark modules are drawn");
        assert_ne!(terminal("2@other").expect("qr"), text, "another payload, another code");
    }

    #[test]
    fn the_png_is_a_well_formed_data_url() {
        let url = png_data_url("2@abc,def,ghi,jkl").expect("png");
        let b64 = url.strip_prefix("data:image/png;base64,").expect("prefix");
        let png = base64::engine::general_purpose::STANDARD.decode(b64).expect("base64");
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&png[12..16], b"IHDR");
        let w = u32::from_be_bytes([png[16], png[17], png[18], png[19]]) as usize;
        let (size, _) = matrix("2@abc,def,ghi,jkl").expect("matrix");
        assert_eq!(w, size * SCALE);
        // The IHDR CRC is the PNG one (a viewer refuses the image otherwise).
        let crc = u32::from_be_bytes([png[29], png[30], png[31], png[32]]);
        assert_eq!(crc, crc32(&png[12..29]));
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926, "the standard CRC-32 check value");
        let long = format!("2@{},{},{},1", "A".repeat(120), "B".repeat(44), "C".repeat(44));
        let url = png_data_url(&long).expect("png");
        assert!(url.len() < 16_384, "a WhatsApp-sized QR fits web.login.wait's currentQrDataUrl limit ({} chars)", url.len());
    }
}
