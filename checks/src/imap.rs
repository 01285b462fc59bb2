//! `service=imap` and `service=imaps`: greeting `* OK` (or `* PREAUTH`);
//! with a `login`, then `LOGIN` answered with a tagged `OK`; then `LOGOUT`.
//!
//! ldirectord's check (Net::IMAP::Simple) sends the same `LOGIN` when
//! `login` is set (a `PREAUTH` greeting then fails there: `LOGIN` is not
//! allowed once authenticated; here it is up, the server having logged us
//! in already).

use tokio::io::{AsyncRead, AsyncWrite};

use crate::lines::Lines;
use crate::{down, quote_text, up, MailLoginProbe, Verdict};

pub(crate) const QUIT: &str = "a1 LOGOUT";
/// After `a1 LOGIN`.
pub(crate) const LOGIN_QUIT: &str = "a2 LOGOUT";

/// The greeting's status word, upper-cased: `OK`, `PREAUTH`, `BYE`...
/// (RFC 9051 7.1: an untagged status; the word is case-insensitive).
fn greeting_status(line: &str) -> Option<String> {
    line.strip_prefix("* ")
        .map(|rest| rest.split(' ').next().unwrap_or("").to_ascii_uppercase())
}

pub(crate) async fn dialogue<S>(c: &mut Lines<S>) -> Verdict
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let line = match c.line("greeting").await {
        Ok(l) => l,
        Err(reason) => return down(reason),
    };
    match greeting_status(&line).as_deref() {
        Some("OK") => up("IMAP OK"),
        Some("PREAUTH") => up("IMAP PREAUTH"),
        _ => down(format!("unexpected greeting {}", quote_text(&line))),
    }
}

/// The greeting, then `a1 LOGIN "user" "password"`.
pub(crate) async fn login<S>(c: &mut Lines<S>, p: &MailLoginProbe) -> Verdict
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let greeting = dialogue(c).await;
    if !greeting.0 || greeting.1 == "IMAP PREAUTH" {
        return greeting;
    }
    if let Some(reason) = p.problem() {
        return down(reason);
    }
    let command = format!("a1 LOGIN {} {}", quoted(&p.user), quoted(&p.password));
    // `send` fails only on the connection (line breaks are refused above),
    // so its reason never holds the password.
    if let Err(reason) = c.send(&command).await {
        return down(reason);
    }
    // Untagged lines (`* CAPABILITY ...`) may come first; bounded by the
    // reader's byte limit, each line consuming input.
    loop {
        let line = match c.line("LOGIN reply").await {
            Ok(l) => l,
            Err(reason) => return down(reason),
        };
        if let Some(rest) = line.strip_prefix("a1 ") {
            let status = rest.split(' ').next().unwrap_or("");
            return if status.eq_ignore_ascii_case("OK") {
                up("IMAP logged in")
            } else {
                down(format!("login refused: {}", quote_text(&line)))
            };
        }
        if greeting_status(&line).as_deref() == Some("BYE") {
            return down(format!("login refused: {}", quote_text(&line)));
        }
    }
}

/// An IMAP quoted string (RFC 9051 4.3): `"` and `\` escaped.
fn quoted(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for ch in s.chars() {
        if ch == '"' || ch == '\\' {
            q.push('\\');
        }
        q.push(ch);
    }
    q.push('"');
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_quoted() {
        assert_eq!(quoted("probe"), r#""probe""#);
        assert_eq!(quoted(r#"a"b\c d"#), r#""a\"b\\c d""#);
        assert_eq!(quoted(""), r#""""#);
    }

    #[test]
    fn greeting_words() {
        assert_eq!(greeting_status("* ok ready").as_deref(), Some("OK"));
        assert_eq!(greeting_status("* BYE").as_deref(), Some("BYE"));
        assert_eq!(greeting_status("+OK"), None);
    }
}
