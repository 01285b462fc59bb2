//! One HTTP/1.x exchange on an open connection, shared by `http`, `https`
//! and `http_proxy`: send the request rendered in the buffer (one write),
//! read the response into the same buffer, and judge it, or hand back a
//! redirect to follow.
//!
//! Bounds: the head must fit in [`MAX_READ`] bytes (else it is an invalid
//! response); the body is read only when `receive` is set, and then at most
//! [`MAX_READ`] bytes of it (after chunked decoding) are kept and searched.

use std::io;

use regex::bytes::Regex;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::buffer::Buffer;
use super::response::{self, Body};
use super::status::StatusCodes;
use crate::{down, io_reason, quote_regex, up, Verdict, MAX_READ};

/// How an answer is judged.
pub(crate) struct Judge<'a> {
    /// The request was HEAD: no body.
    pub head: bool,
    /// Regex the body must match.
    pub receive: Option<&'a Regex>,
    /// The final statuses that are up.
    pub status: &'a StatusCodes,
}

/// What one exchange gave.
pub(crate) enum Answer {
    /// The verdict on a final answer.
    Final(Verdict),
    /// A redirect to follow: its status and `Location`. Only for 301, 302,
    /// 303, 307 and 308 with a `Location`, and whose status `httpstatus`
    /// does not list (a listed one is a final answer).
    Redirect(u16, String),
}

/// LWP::UserAgent's `max_redirect` default: at most this many redirects
/// are followed.
pub(crate) const MAX_REDIRECTS: usize = 7;

/// The statuses LWP follows (`LWP::UserAgent::request`).
pub(crate) fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// Once this much body is in and the body is not complete, look for an
/// early match; then again each time what is in has doubled (so the
/// searches cost at most twice one search of the whole).
const EARLY_MATCH_FIRST: usize = 4 * 1024;

/// Send the rendered request in `buf`, read the response into `buf`, judge it.
pub(crate) async fn exchange<S>(j: &Judge<'_>, s: &mut S, buf: &mut Buffer) -> Answer
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if let Err(e) = send(s, buf.bytes()).await {
        return Answer::Final(down(io_reason("connection error", &e)));
    }
    buf.clear();
    let head = loop {
        match response::parse_head(buf.bytes(), j.head) {
            Ok(Some(h)) => break h,
            Ok(None) if buf.len() >= MAX_READ => return Answer::Final(down(response::too_large())),
            Ok(None) => {}
            Err(reason) => return Answer::Final(down(reason)),
        }
        match read(s, buf.spare(MAX_READ)).await {
            Ok(0) => return Answer::Final(down("connection closed before response")),
            Ok(n) => buf.filled(n),
            Err(e) => return Answer::Final(down(read_error(&e))),
        }
    };
    let status = head.status;
    if !j.status.contains(status) {
        if let (true, Some((a, b))) = (is_redirect(status), head.location) {
            let location = String::from_utf8_lossy(&buf.bytes()[a..b]);
            return Answer::Redirect(status, location.trim().to_string());
        }
        return Answer::Final(down(format!("HTTP {status}")));
    }
    let Some(re) = j.receive else {
        return Answer::Final(up(format!("HTTP {status}")));
    };
    buf.consume(head.len);
    let mut body = Body::new(head.framing);
    let mut early_at = EARLY_MATCH_FIRST;
    loop {
        if let Err(reason) = body.absorb(buf) {
            return Answer::Final(down(reason));
        }
        if body.complete() {
            break;
        }
        if body.len() >= early_at {
            if early_match(re, &buf.bytes()[..body.len()]) {
                return Answer::Final(up(format!("HTTP {status}")));
            }
            early_at = body.len() * 2;
        }
        let room = buf.spare(body.read_limit());
        debug_assert!(!room.is_empty());
        match read(s, room).await {
            Ok(0) => match body.eof() {
                Ok(()) => break,
                Err(reason) => return Answer::Final(down(reason)),
            },
            Ok(n) => buf.filled(n),
            Err(e) => return Answer::Final(down(read_error(&e))),
        }
    }
    Answer::Final(if re.is_match(&buf.bytes()[..body.len()]) {
        up(format!("HTTP {status}"))
    } else if body.truncated() {
        down(format!(
            "body did not match {} in the first {MAX_READ} bytes",
            quote_regex(re)
        ))
    } else {
        down(format!("body did not match {}", quote_regex(re)))
    })
}

/// A match in the part of the body read so far counts before the rest is
/// in only when it cannot depend on what follows: it ends at least one
/// UTF-8 character (4 bytes) before the end of what is in, since `$`, `\b`
/// and the like look no further than one character ahead. Otherwise the
/// whole body (up to [`MAX_READ`]) is awaited, so the verdict is the same as
/// matching the whole.
fn early_match(re: &Regex, part: &[u8]) -> bool {
    re.shortest_match(part)
        .is_some_and(|end| end + 4 <= part.len())
}

/// The reason for a failed read: a TLS alert explained, else the error.
fn read_error(e: &io::Error) -> String {
    match crate::tls::alert_detail(e) {
        Some(detail) => format!("TLS: {detail}"),
        None => io_reason("connection error", e),
    }
}

/// One write of the whole request (the socket is fresh: it takes it whole).
async fn send<S: AsyncWrite + Unpin>(s: &mut S, bytes: &[u8]) -> io::Result<()> {
    s.write_all(bytes).await?;
    s.flush().await
}

/// Read what has arrived into `into`; 0 at the end of the stream. A TLS
/// peer that closes without close_notify ends the stream too (as curl and
/// Perl's IO::Socket::SSL take it).
async fn read<S: AsyncRead + Unpin>(s: &mut S, into: &mut [u8]) -> io::Result<usize> {
    match s.read(into).await {
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
        r => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn early_matches_never_depend_on_what_follows() {
        let re = |p: &str| Regex::new(p).unwrap();
        // Matches well inside what has arrived.
        assert!(early_match(&re("ok"), b"ok, and then more"));
        assert!(early_match(&re("a+"), &[b'a'; 100]));
        // At the end of what has arrived: `$` and `\b` might fail later.
        assert!(!early_match(&re("ok$"), b"xx ok"));
        assert!(!early_match(&re(r"ok\b"), b"xx ok"));
        assert!(!early_match(&re("ok"), b"xx ok"));
        assert!(!early_match(&re("zz"), b"xx ok and more"));
    }
}
