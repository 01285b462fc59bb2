//! `service=imap` and `service=imaps`: greeting `* OK` (or `* PREAUTH`),
//! then `LOGOUT`.

use tokio::io::{AsyncRead, AsyncWrite};

use crate::lines::Lines;
use crate::{down, quote_text, up, Verdict};

pub(crate) const QUIT: &str = "a1 LOGOUT";

pub(crate) async fn dialogue<S>(c: &mut Lines<S>) -> Verdict
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let line = match c.line("greeting").await {
        Ok(l) => l,
        Err(reason) => return down(reason),
    };
    // RFC 9051 7.1: the greeting is an untagged OK, PREAUTH or BYE; the
    // status word is case-insensitive.
    let status = line
        .strip_prefix("* ")
        .map(|rest| rest.split(' ').next().unwrap_or("").to_ascii_uppercase());
    match status.as_deref() {
        Some("OK") => up("IMAP OK"),
        Some("PREAUTH") => up("IMAP PREAUTH"),
        _ => down(format!("unexpected greeting {}", quote_text(&line))),
    }
}
