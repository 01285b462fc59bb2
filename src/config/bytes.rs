//! A config file as bytes, as ldirectord reads it: Perl reads
//! `ldirectord.cf` without any decoding, so a Latin-1 comment or `receive`
//! is fine there. Here a line that is valid UTF-8 is read as such; in one
//! that is not, each byte that is not part of a valid UTF-8 sequence is kept
//! as a *raw byte* (a placeholder character, [`RAW_BASE`] + the byte), so
//! the value grammar keeps working on `&str` and nothing is lost:
//!
//! - in a `receive` regex a raw byte matches that very byte
//!   ([`receive_pattern`]), as Perl's regex does against the server's
//!   bytes;
//! - everywhere else (`request`, commands, comments, names...) a raw byte
//!   reads as its Latin-1 character ([`latin1`]), the usual meaning of such
//!   a byte in an old config.

use std::borrow::Cow;

/// Raw byte `b` (always 0x80..=0xFF: the bytes that break UTF-8) is the
/// character `RAW_BASE + b`, in Unicode's private use plane 16, where no
/// config text has reason to be.
pub const RAW_BASE: u32 = 0x10_FE00;

fn raw_char(b: u8) -> char {
    char::from_u32(RAW_BASE + u32::from(b)).expect("plane 16 private use character")
}

/// The raw byte a character stands for, if it is one.
fn raw_byte(c: char) -> Option<u8> {
    let n = u32::from(c);
    (RAW_BASE + 0x80..=RAW_BASE + 0xFF)
        .contains(&n)
        .then(|| (n - RAW_BASE) as u8)
}

/// Whether `s` holds raw bytes.
pub fn has_raw(s: &str) -> bool {
    s.chars().any(|c| raw_byte(c).is_some())
}

/// One line of a file: as is when it is UTF-8, else with each invalid byte
/// kept as a raw byte.
pub fn decode_line(line: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(line) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => {
            let mut out = String::with_capacity(line.len() + 8);
            for chunk in line.utf8_chunks() {
                out.push_str(chunk.valid());
                out.extend(chunk.invalid().iter().map(|&b| raw_char(b)));
            }
            Cow::Owned(out)
        }
    }
}

/// `s` with each raw byte read as its Latin-1 character.
pub fn latin1(s: &str) -> Cow<'_, str> {
    if !has_raw(s) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .map(|c| match raw_byte(c) {
                Some(b) => char::from(b),
                None => c,
            })
            .collect(),
    )
}

/// A `receive` regex as the checks compile it (`regex::bytes`, matched
/// against the server's bytes). Without raw bytes: unchanged. With raw
/// bytes: Perl's reading of a byte string, with Unicode off (`(?-u)`: `.`
/// is one byte, `\w` ASCII) and every non-ASCII character, raw byte or
/// UTF-8, written as its bytes (`\xE9`), so `caf<0xE9>` matches exactly
/// the Latin-1 bytes a server sends. A backslash before such a character
/// (Perl: that character, literally) is dropped.
pub fn receive_pattern(s: &str) -> Cow<'_, str> {
    if !has_raw(s) {
        return Cow::Borrowed(s);
    }
    let mut out = String::from("(?-u)");
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.peek() {
                Some(&n) if !n.is_ascii() => continue,
                Some(&n) => {
                    out.push(c);
                    out.push(n);
                    chars.next();
                    continue;
                }
                None => {}
            }
        }
        if c.is_ascii() {
            out.push(c);
        } else if let Some(b) = raw_byte(c) {
            out.push_str(&format!("\\x{b:02X}"));
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("\\x{b:02X}"));
            }
        }
    }
    Cow::Owned(out)
}

/// The line (1-based) and byte column of the first byte that is not UTF-8,
/// if any.
pub fn first_invalid(bytes: &[u8]) -> Option<(usize, usize)> {
    let e = std::str::from_utf8(bytes).err()?;
    let before = &bytes[..e.valid_up_to()];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let col = before.len()
        - before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1)
        + 1;
    Some((line, col))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_lines_are_borrowed_and_latin1_bytes_kept() {
        assert!(matches!(
            decode_line(b"real=1.2.3.4 gate"),
            Cow::Borrowed(_)
        ));
        let l = decode_line(b"# caf\xe9 \xc3\xa9");
        assert!(has_raw(&l));
        assert_eq!(latin1(&l), "# café é");
    }

    #[test]
    fn receive_with_raw_bytes_matches_those_bytes() {
        let l = decode_line(b"caf\xe9 .\\d");
        let p = receive_pattern(&l);
        assert_eq!(p, "(?-u)caf\\xE9 .\\d");
        let re = regex::bytes::Regex::new(&p).unwrap();
        assert!(re.is_match(b"un caf\xe9 !7"));
        assert!(
            !re.is_match("un café !7".as_bytes()),
            "UTF-8 é is two other bytes"
        );
        // UTF-8 characters next to raw bytes are matched as their bytes.
        let line = decode_line(b"\xe9|\xc3\xa9|\\\xe8");
        let mixed = receive_pattern(&line);
        assert_eq!(mixed, "(?-u)\\xE9|\\xC3\\xA9|\\xE8");
        assert!(regex::bytes::Regex::new(&mixed)
            .unwrap()
            .is_match("é".as_bytes()));
        // Without raw bytes: unchanged.
        assert_eq!(receive_pattern("café"), "café");
    }

    #[test]
    fn first_invalid_byte_position() {
        assert_eq!(first_invalid(b"a: 1\nb: caf\xe9\n"), Some((2, 7)));
        assert_eq!(first_invalid(b"ok"), None);
    }
}
