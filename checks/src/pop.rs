//! `service=pop` and `service=pops`: greeting `+OK`; with a `login`, then
//! `USER`, `PASS` and `STAT`, each answered `+OK`; then `QUIT`.
//!
//! ldirectord's check (Mail::POP3Client) logs in the same way when the
//! greeting carries no APOP timestamp and the server offers no CRAM-MD5
//! (it tries those first); it needs `STAT` answered too. Without a login
//! it is up whatever happens, even when nothing answers: here the greeting
//! must be `+OK`.

use tokio::io::{AsyncRead, AsyncWrite};

use crate::lines::Lines;
use crate::{down, quote_text, up, MailLoginProbe, Verdict};

pub(crate) const QUIT: &str = "QUIT";

/// `+OK`, alone or followed by a space (RFC 1939: case-sensitive).
fn ok(line: &str) -> bool {
    line == "+OK" || line.starts_with("+OK ")
}

pub(crate) async fn dialogue<S>(c: &mut Lines<S>) -> Verdict
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match c.line("greeting").await {
        Ok(l) if ok(&l) => up("POP3 +OK"),
        Ok(l) => down(format!("unexpected greeting {}", quote_text(&l))),
        Err(reason) => down(reason),
    }
}

/// The greeting, then the login and `STAT`.
pub(crate) async fn login<S>(c: &mut Lines<S>, p: &MailLoginProbe) -> Verdict
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let greeting = dialogue(c).await;
    if !greeting.0 {
        return greeting;
    }
    if let Some(reason) = p.problem() {
        return down(reason);
    }
    let steps = [
        (format!("USER {}", p.user), "USER", "USER refused"),
        (format!("PASS {}", p.password), "PASS", "login refused"),
        ("STAT".to_string(), "STAT", "STAT refused"),
    ];
    for (command, what, refused) in steps {
        // `send` fails only on the connection (line breaks are refused
        // above), so its reason never holds the password.
        if let Err(reason) = c.send(&command).await {
            return down(reason);
        }
        match c.line(&format!("{what} reply")).await {
            Ok(l) if ok(&l) => {}
            Ok(l) => return down(format!("{refused}: {}", quote_text(&l))),
            Err(reason) => return down(reason),
        }
    }
    up("POP3 logged in")
}
