//! The legacy `ldirectord.cf` reader: lines to directives. A line at
//! column 0 is a global directive or starts a `virtual=` block; an indented
//! line belongs to the block above. Each `key=value` goes to the directive
//! model (`directives`), then the whole is resolved (`resolve`).
//!
//! Every problem is collected, none stops the parse: the caller gets all of
//! them with their line numbers.
//!
//! Differences from ldirectord 4.12, on purpose:
//! - Trailing comments: a `#` preceded by white space and outside double
//!   quotes starts a comment (`real=10.0.0.2:80 gate # web1`); a `#` inside a
//!   value (`receive="a#b"`, `checkcommand=/x#y`) is kept. ldirectord cuts
//!   every `#` in a block line.
//! - Blank lines and comments do not end a `virtual=` block; any line
//!   starting with white space continues it; a line at column 0 ends it.
//! - `request`, `receive`, `logfile`, ... may be written with or without
//!   double quotes.
//!
//! The file is read as bytes, as ldirectord reads it: a line that is not
//! UTF-8 (a Latin-1 comment or `receive`) is taken, its odd bytes kept (see
//! [`super::bytes`]).

use super::bytes::{decode_line, latin1, receive_pattern};
use super::directives::{virtual_only, Applied, RawGlobal, RawVirtual, Scope};
use super::hosts::{Resolver, SystemResolver};
use super::value::unquote;
use super::{resolve, Config, ConfigErrors, Problems};
use std::borrow::Cow;
use std::path::Path;

/// Cut a trailing comment: a `#` after white space, outside double quotes.
fn strip_trailing_comment(s: &str) -> &str {
    let mut in_quote = false;
    let mut prev_space = false;
    for (i, c) in s.char_indices() {
        match c {
            '"' => in_quote = !in_quote,
            '#' if !in_quote && prev_space => return s[..i].trim_end(),
            _ => {}
        }
        prev_space = c.is_whitespace();
    }
    s
}

/// `key = value` → (key, raw value). A bare `supervised` reads as
/// `supervised=yes`, as in ldirectord.
fn split_directive(s: &str) -> Option<(&str, &str)> {
    if s == "supervised" {
        return Some(("supervised", "yes"));
    }
    let (k, v) = s.split_once('=')?;
    let k = k.trim_end();
    if k.is_empty()
        || !k
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return None;
    }
    Some((k, v.trim()))
}

/// Parse an `ldirectord.cf` file (names resolved by the system).
pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigErrors> {
    parse_bytes(path, text.as_bytes(), &SystemResolver)
}

/// The value as the directive model takes it: a `receive` regex keeps its
/// raw bytes as bytes, every other value reads them as Latin-1; `real=`
/// keeps them, for its own request and receive.
fn value_for<'a>(key: &str, value: &'a str) -> Cow<'a, str> {
    match key {
        "receive" => receive_pattern(value),
        "real" | "real6" => Cow::Borrowed(value),
        _ => latin1(value),
    }
}

/// Parse an `ldirectord.cf` file read as bytes, names looked up through
/// `resolver`.
pub fn parse_bytes(
    path: &Path,
    bytes: &[u8],
    resolver: &dyn Resolver,
) -> Result<Config, ConfigErrors> {
    let mut errs: Problems = Vec::new();
    let mut global = RawGlobal::default();
    let mut virtuals: Vec<RawVirtual> = Vec::new();
    let mut in_block = false;
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = i + 1;
        let raw = decode_line(raw.strip_suffix(b"\r").unwrap_or(raw));
        let raw: &str = &raw;
        let t = raw.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let indented = raw.starts_with(char::is_whitespace);
        let content = strip_trailing_comment(t);
        let Some((key, raw_value)) = split_directive(content) else {
            errs.push((
                line,
                format!("expected directive=value, got \"{}\"", latin1(content)),
            ));
            continue;
        };
        // `real=` has its own quoting; every other value may be quoted.
        let value = if key == "real" || key == "real6" {
            raw_value
        } else {
            unquote(raw_value)
        };
        let value = value_for(key, value);
        let value: &str = &value;
        if indented {
            match virtuals.last_mut().filter(|_| in_block) {
                Some(v) => {
                    if v.apply(key, value, line, &mut errs) == Applied::Unknown {
                        errs.push((line, format!("unknown directive \"{key}\" in a virtual block")));
                    }
                }
                None if virtual_only(key) => {
                    errs.push((line, format!("{key}= outside a virtual block: put it under a virtual= line")));
                }
                None => errs.push((
                    line,
                    format!("indented line outside a virtual block (global directives start at column 0): \"{}\"", latin1(content)),
                )),
            }
            continue;
        }
        in_block = false;
        match key {
            "virtual" | "virtual6" => {
                virtuals.push(RawVirtual::start(value, key == "virtual6", line, &mut errs));
                in_block = true;
            }
            k if virtual_only(k) || k == "real" => errs.push((
                line,
                format!(
                    "{k}= outside a virtual block: indent it (tab or spaces) under a virtual= line"
                ),
            )),
            _ => {
                if global.apply(key, value, line, &mut errs) == Applied::Unknown {
                    errs.push((line, format!("unknown directive \"{key}\"")));
                }
            }
        }
    }
    resolve::resolve(path, &global, &virtuals, errs, resolver)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments() {
        assert_eq!(
            strip_trailing_comment("real=1.2.3.4:80 gate # web"),
            "real=1.2.3.4:80 gate"
        );
        assert_eq!(
            strip_trailing_comment(r#"receive="a #b""#),
            r#"receive="a #b""#
        );
        assert_eq!(
            strip_trailing_comment("checkcommand=/x#y"),
            "checkcommand=/x#y"
        );
    }
}
