//! `httpstatus=`: the final status codes that count as up, a set of codes
//! and ranges (`200-299,302`) held as a shared bitmap of 100..=599, so a
//! lookup costs one shift; the default set (any 2xx) is no bitmap at all,
//! and a probe carries one pointer.

use std::fmt;
use std::sync::Arc;

/// Lowest and highest status code a set can hold.
const LOW: u16 = 100;
const HIGH: u16 = 599;
const WORDS: usize = (HIGH - LOW) as usize / 64 + 1;

type Bitmap = [u64; WORDS];

/// A set of HTTP status codes. The default is `200-299`: any 2xx is up, as
/// LWP's `is_success` (ldirectord).
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct StatusCodes(Option<Arc<Bitmap>>);

impl StatusCodes {
    /// Whether `code` is in the set.
    pub fn contains(&self, code: u16) -> bool {
        let Some(bits) = &self.0 else {
            return (200..300).contains(&code);
        };
        if !(LOW..=HIGH).contains(&code) {
            return false;
        }
        let i = usize::from(code - LOW);
        bits[i / 64] & (1 << (i % 64)) != 0
    }

    fn insert_range(bits: &mut Bitmap, from: u16, to: u16) {
        for code in from..=to {
            let i = usize::from(code - LOW);
            bits[i / 64] |= 1 << (i % 64);
        }
    }

    /// Parse `200-299,302` (codes and inclusive ranges, separated by
    /// commas, spaces allowed around each). Each code within 100..=599.
    pub fn parse(text: &str) -> Result<StatusCodes, String> {
        let mut bits: Bitmap = [0; WORDS];
        let code = |t: &str| -> Result<u16, String> {
            let t = t.trim();
            match t.parse::<u16>() {
                Ok(c) if (LOW..=HIGH).contains(&c) && t.len() == 3 => Ok(c),
                _ => Err(format!(
                    "\"{t}\" is not a status code (three digits, {LOW} to {HIGH})"
                )),
            }
        };
        for part in text.split(',') {
            if part.trim().is_empty() {
                return Err("expected codes and ranges such as 200-299,302".into());
            }
            let (from, to) = match part.split_once('-') {
                Some((a, b)) => (code(a)?, code(b)?),
                None => {
                    let c = code(part)?;
                    (c, c)
                }
            };
            if from > to {
                return Err(format!("range {from}-{to} is backwards"));
            }
            StatusCodes::insert_range(&mut bits, from, to);
        }
        let mut any_2xx: Bitmap = [0; WORDS];
        StatusCodes::insert_range(&mut any_2xx, 200, 299);
        // The default set is always the same value, whatever its spelling.
        Ok(StatusCodes((bits != any_2xx).then(|| Arc::new(bits))))
    }
}

/// The shortest form: runs of codes as ranges, `200-299,302`.
impl fmt::Display for StatusCodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        let mut code = LOW;
        while code <= HIGH {
            if !self.contains(code) {
                code += 1;
                continue;
            }
            let start = code;
            while code < HIGH && self.contains(code + 1) {
                code += 1;
            }
            if !first {
                f.write_str(",")?;
            }
            first = false;
            if start == code {
                write!(f, "{start}")?;
            } else {
                write!(f, "{start}-{code}")?;
            }
            code += 1;
        }
        Ok(())
    }
}

impl fmt::Debug for StatusCodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StatusCodes({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_any_2xx() {
        let s = StatusCodes::default();
        assert!(s.contains(200) && s.contains(204) && s.contains(299));
        assert!(!s.contains(199) && !s.contains(300) && !s.contains(302));
        assert_eq!(s.to_string(), "200-299");
        assert_eq!(StatusCodes::parse("200-250,251-299").unwrap(), s);
    }

    #[test]
    fn codes_and_ranges_parse_and_print_back() {
        let s = StatusCodes::parse("200-299, 302").unwrap();
        assert!(s.contains(250) && s.contains(302));
        assert!(!s.contains(301) && !s.contains(303));
        assert_eq!(s.to_string(), "200-299,302");
        let s = StatusCodes::parse("301,302,303,100-101,599").unwrap();
        assert_eq!(s.to_string(), "100-101,301-303,599");
        assert!(!s.contains(0) && !s.contains(600) && !s.contains(u16::MAX));
        assert_eq!(StatusCodes::parse(&s.to_string()).unwrap(), s);
    }

    #[test]
    fn bad_sets_are_errors() {
        for bad in [
            "", "2xx", "99", "600", "200-", "299-200", "200,,302", "0200", "1e2",
        ] {
            assert!(StatusCodes::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(
            StatusCodes::parse("299-200").unwrap_err(),
            "range 299-200 is backwards"
        );
    }
}
