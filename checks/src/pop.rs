//! `service=pop` and `service=pops`: greeting `+OK`, then `QUIT`.

use tokio::io::{AsyncRead, AsyncWrite};

use crate::lines::Lines;
use crate::{down, quote_text, up, Verdict};

pub(crate) const QUIT: &str = "QUIT";

pub(crate) async fn dialogue<S>(c: &mut Lines<S>) -> Verdict
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match c.line("greeting").await {
        // RFC 1939: "+OK" is case-sensitive.
        Ok(l) if l == "+OK" || l.starts_with("+OK ") => up("POP3 +OK"),
        Ok(l) => down(format!("unexpected greeting {}", quote_text(&l))),
        Err(reason) => down(reason),
    }
}
