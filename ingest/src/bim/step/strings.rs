//! Decoding of STEP string literals and their escapes.

/// Decodes the contents of a STEP string (between the quotes): `''`, `\\`, `\X\hh` (ISO 8859-1),
/// `\X2\…\X0\` (UTF-16 code units as 4 hex digits), `\X4\…\X0\` (code points as 8 hex digits), `\S\c`
/// (c + 128) and `\P…\` code-page switches (ignored). Unknown escapes are kept as written; bytes outside
/// ASCII (not allowed, but written by some tools) are read as UTF-8 where valid.
pub fn decode_string(raw: &[u8]) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut plain: Vec<u8> = vec![];
    let flush = |plain: &mut Vec<u8>, out: &mut String| {
        if !plain.is_empty() {
            out.push_str(&String::from_utf8_lossy(plain));
            plain.clear();
        }
    };
    let hex = |b: &[u8]| -> Option<u32> {
        std::str::from_utf8(b)
            .ok()
            .and_then(|s| u32::from_str_radix(s, 16).ok())
    };
    let mut i = 0;
    while i < raw.len() {
        let rest = &raw[i..];
        if rest.starts_with(b"''") {
            plain.push(b'\'');
            i += 2;
        } else if rest.starts_with(b"\\\\") {
            plain.push(b'\\');
            i += 2;
        } else if rest.starts_with(b"\\X2\\") || rest.starts_with(b"\\X4\\") {
            flush(&mut plain, &mut out);
            let width = if rest[2] == b'2' { 4 } else { 8 };
            let body_start = i + 4;
            let end = raw[body_start..]
                .windows(4)
                .position(|w| w == b"\\X0\\")
                .map(|p| body_start + p);
            let Some(end) = end else {
                plain.extend_from_slice(rest);
                break;
            };
            let units: Vec<u32> = raw[body_start..end].chunks(width).filter_map(hex).collect();
            if width == 4 {
                let u16s: Vec<u16> = units.iter().map(|u| *u as u16).collect();
                out.push_str(&String::from_utf16_lossy(&u16s));
            } else {
                out.extend(
                    units
                        .iter()
                        .map(|u| char::from_u32(*u).unwrap_or('\u{fffd}')),
                );
            }
            i = end + 4;
        } else if rest.starts_with(b"\\X\\") && rest.len() >= 5 {
            flush(&mut plain, &mut out);
            match hex(&rest[3..5]).and_then(char::from_u32) {
                Some(c) => out.push(c),
                None => out.push('\u{fffd}'),
            }
            i += 5;
        } else if rest.starts_with(b"\\S\\") && rest.len() >= 4 {
            flush(&mut plain, &mut out);
            out.push(char::from_u32(u32::from(rest[3]) + 128).unwrap_or('\u{fffd}'));
            i += 4;
        } else if rest.starts_with(b"\\P") && rest.len() >= 4 && rest[3] == b'\\' {
            i += 4;
        } else {
            plain.push(raw[i]);
            i += 1;
        }
    }
    flush(&mut plain, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_string_escapes() {
        for (raw, want) in [
            ("plain", "plain"),
            ("it''s", "it's"),
            ("back\\\\slash", "back\\slash"),
            ("\\X2\\00E4\\X0\\ngen", "ängen"),
            ("Gr\\X2\\00FC00DF\\X0\\e", "Grüße"),
            ("\\X4\\0001F600\\X0\\", "😀"),
            ("\\X\\E5", "å"),
            ("\\S\\e", "å"),
            ("\\PA\\x", "x"),
            ("Åre", "Åre"),
        ] {
            assert_eq!(decode_string(raw.as_bytes()), want, "{raw}");
        }
    }
}
