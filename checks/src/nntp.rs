//! `service=nntp`: greeting `200` (posting allowed) or `201` (no posting),
//! then `QUIT`. (ldirectord accepts any `2xx`; RFC 3977 greets with only
//! these two, and `400`/`502` mean the service is unavailable.)

use tokio::io::{AsyncRead, AsyncWrite};

use crate::lines::{reply_code, Lines};
use crate::{down, quote_text, up, Verdict};

pub(crate) const QUIT: &str = "QUIT";

pub(crate) async fn dialogue<S>(c: &mut Lines<S>) -> Verdict
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // NNTP responses are single lines: no multi-line reply handling.
    match c.line("greeting").await {
        Ok(l) => match reply_code(&l) {
            Some(code @ (200 | 201)) => up(format!("NNTP {code}")),
            _ => down(format!("unexpected greeting {}", quote_text(&l))),
        },
        Err(reason) => down(reason),
    }
}
