//! Limits that keep reading a YAML document linear in its size, whatever
//! it holds:
//!
//! - aliases: a YAML anchor reused many times is copied each time (one 1 MB
//!   anchor reused 1,500 times took 4.6 GB), so every value read is charged
//!   against a budget ([`with_budget`], [`charge`], called by the schema's
//!   visitors);
//! - nesting: the YAML scanner's cost grows with the square of the flow
//!   nesting depth (`[[[[...]]]]`: 2.5 s at 20,000 levels), so a document
//!   nested deeper than [`MAX_DEPTH`] is refused before it is parsed
//!   ([`too_deep`]). The deserialiser refuses more than 128 levels anyway;
//!   no config needs more than 4.

use serde::de;
use std::cell::Cell;

/// What aliases may add to a document, beyond its own size: a YAML anchor
/// reused many times is copied each time (one 1 MB anchor reused 1,500
/// times took 4.6 GB), so the values read are charged against a budget of
/// [`EXPANSION_FACTOR`] times the text plus this.
pub const ALIAS_ALLOWANCE: usize = 16 << 20;
/// See [`ALIAS_ALLOWANCE`]: a value is never longer than its text, but
/// escapes (`\L`) may make it up to half as long again.
pub const EXPANSION_FACTOR: usize = 2;
/// The charge of each value beside its bytes (numbers, booleans, the
/// bookkeeping of a string).
const VALUE_COST: usize = 16;

thread_local! {
    /// Bytes the document being read may still expand to; `None`: no limit
    /// (serialising, other documents).
    static BUDGET: Cell<Option<usize>> = const { Cell::new(None) };
}

/// Run `f` (a deserialisation of `text`) with the expansion budget set.
pub(super) fn with_budget<T>(text: &str, f: impl FnOnce() -> T) -> T {
    struct Reset(Option<usize>);
    impl Drop for Reset {
        fn drop(&mut self) {
            BUDGET.with(|b| b.set(self.0));
        }
    }
    let limit = text
        .len()
        .saturating_mul(EXPANSION_FACTOR)
        .saturating_add(ALIAS_ALLOWANCE);
    let _reset = Reset(BUDGET.with(|b| b.replace(Some(limit))));
    f()
}

/// Charge a value of `len` bytes against the budget.
pub(super) fn charge<E: de::Error>(len: usize) -> Result<(), E> {
    BUDGET.with(|b| match b.get() {
        None => Ok(()),
        Some(left) => match left.checked_sub(len.saturating_add(VALUE_COST)) {
            Some(rest) => {
                b.set(Some(rest));
                Ok(())
            }
            None => Err(E::custom(format_args!(
                "refused: the aliases (*name) of this document expand it to more than {} MiB beyond twice its size (an anchor reused too often?)",
                ALIAS_ALLOWANCE >> 20
            ))),
        },
    })
}

/// The deepest flow nesting (`[`, `{`) accepted.
pub const MAX_DEPTH: usize = 64;

/// The line where `text` first nests flow collections deeper than
/// [`MAX_DEPTH`], if it does. A quick scan, not a parser: quoted scalars and
/// comments are skipped, and outside a flow collection only a bracket that
/// starts a value counts (`a: x[1]` is a plain scalar).
pub(super) fn too_deep(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    let mut depth = 0usize;
    let mut line = 1;
    // At the start of a value (line start, after `- `, `: `, `[`, `{`, `,`).
    let mut value_start = true;
    let mut i = 0;
    let blank = |j: usize| j >= b.len() || matches!(b[j], b' ' | b'\t' | b'\n' | b'\r');
    while i < b.len() {
        let c = b[i];
        match c {
            b'\n' => {
                line += 1;
                value_start = true;
            }
            b' ' | b'\t' | b'\r' => {}
            b'#' if i == 0 || blank(i - 1) => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'"' | b'\'' if value_start => {
                // A quoted scalar: to its closing quote.
                i += 1;
                while i < b.len() {
                    match b[i] {
                        b'\\' if c == b'"' => i += 1,
                        b'\'' if c == b'\'' && b.get(i + 1) == Some(&b'\'') => i += 1,
                        q if q == c => break,
                        b'\n' => line += 1,
                        _ => {}
                    }
                    i += 1;
                }
                value_start = false;
            }
            b'[' | b'{' if depth > 0 || value_start => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Some(line);
                }
                value_start = true;
            }
            b']' | b'}' if depth > 0 => {
                depth -= 1;
                value_start = false;
            }
            b',' if depth > 0 => value_start = true,
            b'-' | b':' | b'?' if blank(i + 1) => value_start = true,
            // An anchor or tag before a value: still at its start.
            b'&' | b'!' if value_start => {
                while !blank(i + 1) && !matches!(b[i + 1], b'[' | b'{') {
                    i += 1;
                }
            }
            _ => value_start = false,
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_is_measured_where_it_is_real() {
        let deep = |n: usize| format!("a: {}{}\n", "[".repeat(n), "]".repeat(n));
        assert_eq!(too_deep(&deep(MAX_DEPTH)), None);
        assert_eq!(too_deep(&format!("x: 1\n{}", deep(MAX_DEPTH + 1))), Some(2));
        assert_eq!(too_deep(&format!("a: &x {}", deep(MAX_DEPTH + 1))), Some(1));
        assert_eq!(too_deep(&format!("- {}", deep(MAX_DEPTH + 1))), Some(1));
        // Brackets in plain and quoted scalars and comments do not count.
        let text = format!(
            "receive: ok{o}\nrequest: \"{o}\"\nr: '{o}'' {o}'\n# {o}\nq: [\"{o}\", a]\n",
            o = "[".repeat(100)
        );
        assert_eq!(too_deep(&text), None);
        assert_eq!(
            too_deep(&format!("a: {{b: [{{c: {}", "[".repeat(62))),
            Some(1)
        );
        assert_eq!(too_deep(&format!("a: {{b: [{{c: {}", "[".repeat(61))), None);
    }
}
