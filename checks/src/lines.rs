//! The bounded line reader and writer of the line protocols: the
//! `ddd text` reply and its code, command lines, and the polite goodbye.
//!
//! Used by the line protocols (`smtp.rs`, `pop.rs`, `imap.rs`, `nntp.rs`,
//! `ftp.rs`, `sip.rs` over TCP) and by the director's SMTP alert client;
//! imports none of them.
//!
//! Bounds: one line is at most [`MAX_LINE`] bytes, one connection reads at
//! most [`MAX_READ`] bytes in all; the goodbye takes at most [`QUIT_GRACE`].

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

use crate::wire::send_whole;
use crate::{io_reason, quote_text, MAX_READ};

/// Longest line accepted from a server (RFC 5321 allows 512 for SMTP
/// replies; IMAP greetings with capabilities are longer).
pub(crate) const MAX_LINE: usize = 4096;

/// Longest wait for the server's goodbye after the verdict is known.
pub(crate) const QUIT_GRACE: Duration = Duration::from_secs(1);

/// A reply of the form `ddd text` (SMTP, FTP, NNTP), multi-line replies
/// (`ddd-...` up to `ddd ...`) read whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    /// The first line, as sent (for reasons).
    pub first: String,
    /// Every line after the first, as sent.
    pub rest: Vec<String>,
}

impl Reply {
    /// The first line, quoted for a reason.
    pub fn quoted(&self) -> String {
        quote_text(&self.first)
    }
}

/// A stream read line by line, within [`MAX_LINE`] per line and
/// [`MAX_READ`] in all.
pub struct Lines<S> {
    stream: S,
    buf: Vec<u8>,
    read: usize,
    /// False once the server closed or the stream failed: no goodbye then.
    open: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Lines<S> {
    pub fn new(stream: S) -> Self {
        Lines {
            stream,
            buf: Vec::new(),
            read: 0,
            open: true,
        }
    }

    /// The next line without its CR LF (invalid UTF-8 replaced). `what`
    /// names what is awaited, for the reason: `connection closed before
    /// <what>`.
    pub async fn line(&mut self, what: &str) -> Result<String, String> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.buf.drain(..=i).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(String::from_utf8_lossy(&line).into_owned());
            }
            if self.buf.len() >= MAX_LINE {
                return Err(format!("{what}: line longer than {MAX_LINE} bytes"));
            }
            if self.read >= MAX_READ {
                return Err(format!("{what}: more than {MAX_READ} bytes received"));
            }
            let mut chunk = [0u8; 4096];
            let room = chunk.len().min(MAX_READ - self.read);
            match self.stream.read(&mut chunk[..room]).await {
                Ok(0) => {
                    self.open = false;
                    return Err(format!("connection closed before {what}"));
                }
                Ok(n) => {
                    self.read += n;
                    self.buf.extend_from_slice(&chunk[..n]);
                }
                Err(e) => {
                    self.open = false;
                    return Err(io_reason("read failed", &e));
                }
            }
        }
    }

    /// A `ddd text` reply, multi-line ones whole. Lines between the first
    /// `ddd-` and the last `ddd ` may be anything (FTP allows that).
    pub async fn reply(&mut self, what: &str) -> Result<Reply, String> {
        let first = self.line(what).await?;
        let Some(code) = reply_code(&first) else {
            return Err(format!("invalid {what} {}", quote_text(&first)));
        };
        let mut reply = Reply {
            code,
            first,
            rest: Vec::new(),
        };
        if reply.first.as_bytes().get(3) == Some(&b'-') {
            let end = format!("{code} ");
            loop {
                // Bounded by MAX_READ: each line consumes input.
                let l = self.line(what).await?;
                let last = l.starts_with(&end) || l == end.trim_end();
                reply.rest.push(l);
                if last {
                    break;
                }
            }
        }
        Ok(reply)
    }

    /// Send one command line (CR LF added). Refuses CR or LF inside it.
    pub async fn send(&mut self, line: &str) -> Result<(), String> {
        if line.contains(['\r', '\n']) {
            return Err(format!("invalid command {} (line break)", quote_text(line)));
        }
        let mut bytes = Vec::with_capacity(line.len() + 2);
        bytes.extend_from_slice(line.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        self.write_raw(&bytes).await
    }

    /// Send bytes as they are (a whole request of several lines).
    pub async fn write_raw(&mut self, bytes: &[u8]) -> Result<(), String> {
        send_whole(&mut self.stream, &mut self.open, bytes).await
    }

    /// Skip `n` bytes (a message body), within the [`MAX_READ`] limit.
    pub async fn skip(&mut self, mut n: usize, what: &str) -> Result<(), String> {
        let from_buf = n.min(self.buf.len());
        self.buf.drain(..from_buf);
        n -= from_buf;
        let mut chunk = [0u8; 4096];
        while n > 0 {
            if self.read >= MAX_READ {
                return Err(format!("{what}: more than {MAX_READ} bytes received"));
            }
            let room = chunk.len().min(n).min(MAX_READ - self.read);
            match self.stream.read(&mut chunk[..room]).await {
                Ok(0) => {
                    self.open = false;
                    return Err(format!("connection closed before {what}"));
                }
                Ok(k) => {
                    self.read += k;
                    n -= k;
                }
                Err(e) => {
                    self.open = false;
                    return Err(io_reason("read failed", &e));
                }
            }
        }
        Ok(())
    }

    /// The polite goodbye: send `command`, read and discard until the
    /// server closes, then close our side. Nothing when the connection is
    /// already gone. Takes at most [`QUIT_GRACE`] and at most half the time
    /// left before `deadline`; never changes the verdict.
    pub async fn quit(&mut self, command: &str, deadline: Instant) {
        if !self.open {
            return;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let grace = QUIT_GRACE.min(left / 2);
        let _ = tokio::time::timeout(grace, async {
            if self.send(command).await.is_err() {
                return;
            }
            let mut sink = [0u8; 4096];
            let mut drained = 0;
            while drained < MAX_READ {
                match self.stream.read(&mut sink).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => drained += n,
                }
            }
            let _ = self.stream.shutdown().await;
        })
        .await;
        self.open = false;
    }
}

/// The three-digit code at the start of `line` when followed by a space, a
/// hyphen or nothing.
pub(crate) fn reply_code(line: &str) -> Option<u16> {
    let b = line.as_bytes();
    if b.len() < 3 || !b[..3].iter().all(u8::is_ascii_digit) {
        return None;
    }
    if !matches!(b.get(3), None | Some(b' ' | b'-')) {
        return None;
    }
    line[..3].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_codes() {
        assert_eq!(reply_code("220 mail ESMTP"), Some(220));
        assert_eq!(reply_code("250-PIPELINING"), Some(250));
        assert_eq!(reply_code("221"), Some(221));
        assert_eq!(reply_code("22 x"), None);
        assert_eq!(reply_code("2200 x"), None);
        assert_eq!(reply_code("+OK"), None);
        assert_eq!(reply_code(""), None);
    }

    #[tokio::test]
    async fn lines_and_multiline_replies() {
        let (mut a, b) = tokio::io::duplex(64 * 1024);
        a.write_all(b"220-first\r\n220-second\r\nfree text\r\n220 last\r\n+OK bare lf\nno end")
            .await
            .unwrap();
        drop(a);
        let mut c = Lines::new(b);
        let r = c.reply("greeting").await.unwrap();
        assert_eq!(r.code, 220);
        assert_eq!(r.first, "220-first");
        assert_eq!(r.rest, vec!["220-second", "free text", "220 last"]);
        assert_eq!(c.line("x").await.unwrap(), "+OK bare lf");
        assert_eq!(
            c.line("greeting").await.unwrap_err(),
            "connection closed before greeting"
        );
        assert!(!c.open);
    }

    #[tokio::test]
    async fn long_lines_and_floods_are_bounded() {
        let (mut a, b) = tokio::io::duplex(1 << 20);
        a.write_all(&vec![b'x'; MAX_LINE + 10]).await.unwrap();
        let mut c = Lines::new(b);
        let e = c.line("greeting").await.unwrap_err();
        assert_eq!(e, format!("greeting: line longer than {MAX_LINE} bytes"));

        // An endless multi-line reply stops at MAX_READ.
        let (mut a, b) = tokio::io::duplex(1 << 20);
        let writer = tokio::spawn(async move {
            let _ = a.write_all(b"250-x\r\n").await;
            for _ in 0..100_000 {
                if a.write_all(b"250-more more more\r\n").await.is_err() {
                    break;
                }
            }
        });
        let mut c = Lines::new(b);
        let e = c.reply("EHLO reply").await.unwrap_err();
        assert_eq!(
            e,
            format!("EHLO reply: more than {MAX_READ} bytes received")
        );
        drop(c);
        writer.await.unwrap();
    }

    #[tokio::test]
    async fn invalid_reply_and_line_breaks_in_commands() {
        let (mut a, b) = tokio::io::duplex(1024);
        a.write_all(b"hello there\r\n").await.unwrap();
        let mut c = Lines::new(b);
        assert_eq!(
            c.reply("greeting").await.unwrap_err(),
            r#"invalid greeting "hello there""#
        );
        assert!(c
            .send("RETR a\r\nDELE b")
            .await
            .unwrap_err()
            .starts_with("invalid command"));
    }
}
