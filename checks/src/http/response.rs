//! Reading an HTTP/1.x response, without I/O: the head (parsed with
//! httparse; 1xx interim responses skipped) and the body, framed by
//! `Content-Length`, chunked encoding or the close, decoded in place at the
//! front of the probe's [`Buffer`] and kept up to [`MAX_READ`] bytes.
//!
//! The framing rules and the error texts follow hyper's HTTP/1 client (which
//! this replaces): HEAD responses and 1xx/204/304 have no body;
//! `Transfer-Encoding` wins over `Content-Length` and means chunked when
//! `chunked` is its last coding, else the body runs to the close; several
//! `Content-Length`s must agree; at most 100 headers.

use std::mem::MaybeUninit;

use super::buffer::Buffer;
use crate::MAX_READ;

/// Most headers in a response head (hyper's default).
const MAX_HEADERS: usize = 100;

/// Longest chunk-size line (with extensions) kept while waiting for its end.
const MAX_CHUNK_LINE: usize = 4 * 1024;

/// A parsed response head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Head {
    pub status: u16,
    /// Bytes taken by the head, interim (1xx) responses before it included.
    pub len: usize,
    pub framing: Framing,
    /// Where the `Location` value of a 3xx is in the buffer (start, end).
    pub location: Option<(usize, usize)>,
}

/// How the body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    /// No body (HEAD, 1xx, 204, 304).
    Empty,
    /// `Content-Length`.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Up to the close.
    Close,
}

/// `invalid HTTP response: <detail>`.
pub(super) fn invalid(detail: &str) -> String {
    format!("invalid HTTP response: {detail}")
}

pub(super) fn too_large() -> String {
    invalid(&format!("headers larger than {MAX_READ} bytes"))
}

/// Parse the head at the start of `buf`. `Ok(None)`: not complete yet.
/// `head_request`: the request was HEAD, so there is no body.
pub(super) fn parse_head(buf: &[u8], head_request: bool) -> Result<Option<Head>, String> {
    let mut start = 0;
    loop {
        let mut headers = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
        let mut res = httparse::Response::new(&mut []);
        let parsed = httparse::ParserConfig::default().parse_response_with_uninit_headers(
            &mut res,
            &buf[start..],
            &mut headers,
        );
        let n = match parsed {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(e) => return Err(parse_error(e)),
        };
        let status = res.code.unwrap_or(0);
        if status < 100 {
            return Err(invalid("invalid HTTP status-code parsed"));
        }
        start += n;
        // 100 Continue, 102 Processing, 103 Early Hints...: the final
        // response follows. (101 ends the exchange: it is a final answer
        // here, and not a 2xx.)
        if status < 200 && status != 101 {
            continue;
        }
        let http10 = res.version == Some(0);
        let framing = framing(status, head_request, http10, res.headers)?;
        let location = if (300..400).contains(&status) {
            location(buf, res.headers)
        } else {
            None
        };
        return Ok(Some(Head {
            status,
            len: start,
            framing,
            location,
        }));
    }
}

/// The span of the (first) `Location` header's value within `buf`.
fn location(buf: &[u8], headers: &[httparse::Header<'_>]) -> Option<(usize, usize)> {
    let h = headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("location"))?;
    // The value is a slice of `buf`: its offset is the distance between the
    // two starts.
    let start = (h.value.as_ptr() as usize).checked_sub(buf.as_ptr() as usize)?;
    let end = start + h.value.len();
    (end <= buf.len()).then_some((start, end))
}

fn parse_error(e: httparse::Error) -> String {
    match e {
        httparse::Error::TooManyHeaders => too_large(),
        httparse::Error::Status => invalid("invalid HTTP status-code parsed"),
        httparse::Error::Version => invalid("invalid HTTP version parsed"),
        httparse::Error::HeaderName
        | httparse::Error::HeaderValue
        | httparse::Error::NewLine
        | httparse::Error::Token => invalid("invalid HTTP header parsed"),
    }
}

/// RFC 9112 section 6.3, for a response.
fn framing(
    status: u16,
    head_request: bool,
    http10: bool,
    headers: &[httparse::Header<'_>],
) -> Result<Framing, String> {
    if head_request || matches!(status, 101 | 204 | 304) {
        return Ok(Framing::Empty);
    }
    // The last Transfer-Encoding header decides.
    let mut transfer_encoding: Option<&[u8]> = None;
    let mut length: Option<u64> = None;
    let mut bad_length = false;
    for h in headers {
        if h.name.eq_ignore_ascii_case("transfer-encoding") {
            transfer_encoding = Some(h.value);
        } else if h.name.eq_ignore_ascii_case("content-length") {
            for v in h.value.split(|&b| b == b',') {
                match (digits(v.trim_ascii()), length) {
                    (Some(n), None) => length = Some(n),
                    (Some(n), Some(l)) if n == l => {}
                    _ => bad_length = true,
                }
            }
        }
    }
    if let Some(te) = transfer_encoding {
        if http10 {
            return Err(invalid("unexpected transfer-encoding parsed"));
        }
        let last = te.rsplit(|&b| b == b',').next().unwrap_or(te);
        return Ok(if last.trim_ascii().eq_ignore_ascii_case(b"chunked") {
            Framing::Chunked
        } else {
            Framing::Close
        });
    }
    match (length, bad_length) {
        (Some(n), false) => Ok(Framing::Length(n)),
        (_, true) => Err(invalid("invalid content-length parsed")),
        (None, false) => Ok(Framing::Close),
    }
}

/// A decimal number of at most 19 digits, nothing else.
fn digits(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(v.iter().fold(0u64, |n, &d| n * 10 + u64::from(d - b'0')))
}

/// Where the chunked decoder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Expecting a chunk-size line.
    Size,
    /// Inside a chunk's data, this many bytes left.
    Data(u64),
    /// Expecting the CRLF after a chunk's data.
    DataEnd,
}

/// The body being read. The decoded body is the first [`Body::len`] bytes
/// of the buffer (the head has been consumed); for chunked bodies the bytes
/// not yet decoded follow it.
#[derive(Debug)]
pub(super) struct Body {
    framing: Framing,
    /// Decoded body bytes at the front of the buffer, at most `MAX_READ`.
    len: usize,
    chunk: Chunk,
    /// The whole body is in (its end was seen).
    ended: bool,
}

/// The body's end was not reached when the connection closed.
pub(super) const INCOMPLETE_BODY: &str = "connection closed before end of body";

impl Body {
    pub(super) fn new(framing: Framing) -> Body {
        Body {
            framing,
            len: 0,
            chunk: Chunk::Size,
            ended: framing == Framing::Empty || framing == Framing::Length(0),
        }
    }

    /// Decoded body bytes so far (at the front of the buffer).
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Nothing more to read: the body ended, or `MAX_READ` bytes of it are in.
    pub(super) fn complete(&self) -> bool {
        self.ended || self.len >= MAX_READ
    }

    /// More body follows what was kept.
    pub(super) fn truncated(&self) -> bool {
        !self.ended
    }

    /// How many bytes the buffer may hold while reading more of the body.
    pub(super) fn read_limit(&self) -> usize {
        match self.framing {
            Framing::Empty => 0,
            Framing::Length(n) => usize::try_from(n).unwrap_or(usize::MAX).min(MAX_READ),
            Framing::Close => MAX_READ,
            // Room for the undecoded rest of a chunk-size line besides the
            // body kept.
            Framing::Chunked => MAX_READ + 2 * MAX_CHUNK_LINE,
        }
    }

    /// Take in what the buffer holds after the decoded part (bytes just
    /// read). Bytes after the end of the body (pipelined junk) are dropped.
    pub(super) fn absorb(&mut self, buf: &mut Buffer) -> Result<(), String> {
        match self.framing {
            Framing::Empty => buf.truncate(0),
            Framing::Length(n) => {
                let want = usize::try_from(n).unwrap_or(usize::MAX).min(MAX_READ);
                self.len = buf.len().min(want);
                buf.truncate(self.len);
                self.ended = self.len as u64 == n;
            }
            Framing::Close => {
                self.len = buf.len().min(MAX_READ);
                buf.truncate(self.len);
            }
            Framing::Chunked => self.dechunk(buf)?,
        }
        Ok(())
    }

    /// The connection closed (EOF): the end of a close-delimited body, else
    /// an incomplete one.
    pub(super) fn eof(&mut self) -> Result<(), String> {
        if self.framing == Framing::Close || self.ended {
            self.ended = true;
            Ok(())
        } else {
            Err(INCOMPLETE_BODY.to_string())
        }
    }

    /// Decode the chunked bytes after `len` in place, then move what is
    /// left undecoded (part of a size line) right after the decoded body.
    fn dechunk(&mut self, buf: &mut Buffer) -> Result<(), String> {
        let mut raw = self.len;
        while !self.ended {
            let data = buf.bytes_mut();
            let pending = &data[raw..];
            match self.chunk {
                Chunk::Size => {
                    // httparse takes an empty size line as 0; hyper and the
                    // RFC want at least one hex digit.
                    if pending.first().is_some_and(|b| !b.is_ascii_hexdigit()) {
                        return Err(invalid("invalid chunk size line"));
                    }
                    match httparse::parse_chunk_size(pending) {
                        Ok(httparse::Status::Complete((n, size))) => {
                            raw += n;
                            if size == 0 {
                                // The last chunk: the body is complete;
                                // trailers, if any, are not needed.
                                self.ended = true;
                            } else {
                                self.chunk = Chunk::Data(size);
                            }
                        }
                        Ok(httparse::Status::Partial) if pending.len() <= MAX_CHUNK_LINE => break,
                        Ok(httparse::Status::Partial) | Err(_) => {
                            return Err(invalid("invalid chunk size line"))
                        }
                    }
                }
                Chunk::Data(left) => {
                    let room = MAX_READ - self.len;
                    let take = (pending.len() as u64).min(left).min(room as u64) as usize;
                    if take == 0 {
                        break; // nothing read yet, or MAX_READ kept
                    }
                    data.copy_within(raw..raw + take, self.len);
                    self.len += take;
                    raw += take;
                    let left = left - take as u64;
                    self.chunk = if left == 0 {
                        Chunk::DataEnd
                    } else {
                        Chunk::Data(left)
                    };
                }
                Chunk::DataEnd => match pending {
                    [b'\r', b'\n', ..] => {
                        raw += 2;
                        self.chunk = Chunk::Size;
                    }
                    [] | [b'\r'] => break,
                    _ => return Err(invalid("invalid chunk data end")),
                },
            }
        }
        if self.ended {
            buf.truncate(self.len);
        } else {
            buf.close_gap(self.len, raw);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn head(r: &str) -> Result<Option<Head>, String> {
        parse_head(r.as_bytes(), false)
    }

    #[test]
    fn heads_are_parsed_with_their_framing() {
        let h = head("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .unwrap()
            .unwrap();
        assert_eq!(h.status, 200);
        assert_eq!(h.framing, Framing::Length(2));
        assert_eq!(h.len, 38);
        assert_eq!(h.location, None);
        let h = head(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 9\r\n\r\n",
        );
        assert_eq!(h.unwrap().unwrap().framing, Framing::Chunked);
        let h = head("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n");
        assert_eq!(h.unwrap().unwrap().framing, Framing::Close);
        let h = head("HTTP/1.0 200 OK\r\n\r\n");
        assert_eq!(h.unwrap().unwrap().framing, Framing::Close);
        let h = head("HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\ncontent-length: 5\r\n\r\n");
        assert_eq!(h.unwrap().unwrap().framing, Framing::Length(5));
    }

    #[test]
    fn the_location_of_a_redirect_is_found_in_the_buffer() {
        let r = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 302 Found\r\nX: y\r\nlocation:  /next?a=1 \r\nLocation: /second\r\n\r\n";
        let h = head(r).unwrap().unwrap();
        let (a, b) = h.location.unwrap();
        assert_eq!(r[a..b].trim(), "/next?a=1");
        // Only for 3xx.
        let h = head("HTTP/1.1 200 OK\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(h.unwrap().unwrap().location, None);
    }

    #[test]
    fn no_body_for_head_requests_and_204_304() {
        let r = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";
        let h = parse_head(r.as_bytes(), true).unwrap().unwrap();
        assert_eq!(h.framing, Framing::Empty);
        for s in [
            "204 No Content",
            "304 Not Modified",
            "101 Switching Protocols",
        ] {
            let h = head(&format!("HTTP/1.1 {s}\r\nContent-Length: 10\r\n\r\n"));
            assert_eq!(h.unwrap().unwrap().framing, Framing::Empty, "{s}");
        }
    }

    #[test]
    fn interim_responses_are_skipped() {
        let r = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n";
        let h = head(r).unwrap().unwrap();
        assert_eq!(h.status, 503);
        assert_eq!(h.len, r.len());
        // Only the interim response so far: incomplete.
        assert_eq!(head("HTTP/1.1 100 Continue\r\n\r\n"), Ok(None));
        assert_eq!(head("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 2"), Ok(None));
    }

    #[test]
    fn partial_heads_wait_for_more() {
        let full = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n";
        for i in 0..full.len() {
            assert_eq!(head(&full[..i]), Ok(None), "{:?}", &full[..i]);
        }
    }

    #[test]
    fn malformed_heads_are_named_as_hyper_named_them() {
        let e = |r: &str| head(r).unwrap_err();
        assert_eq!(
            e("SSH-2.0-OpenSSH_9.2\r\n\r\n"),
            "invalid HTTP response: invalid HTTP version parsed"
        );
        assert_eq!(
            e("HTTP/1.1 2x0 OK\r\n\r\n"),
            "invalid HTTP response: invalid HTTP status-code parsed"
        );
        assert_eq!(
            e("HTTP/1.1 099 Low\r\n\r\n"),
            "invalid HTTP response: invalid HTTP status-code parsed"
        );
        assert_eq!(
            e("HTTP/1.1 200 OK\r\nBad Header\r\n\r\n"),
            "invalid HTTP response: invalid HTTP header parsed"
        );
        assert_eq!(
            e("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
            "invalid HTTP response: invalid content-length parsed"
        );
        assert_eq!(
            e("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"),
            "invalid HTTP response: invalid content-length parsed"
        );
        assert_eq!(
            e("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
            "invalid HTTP response: unexpected transfer-encoding parsed"
        );
        let mut many = "HTTP/1.1 200 OK\r\n".to_string();
        for i in 0..=MAX_HEADERS {
            many.push_str(&format!("X-{i}: y\r\n"));
        }
        many.push_str("\r\n");
        assert_eq!(e(&many), too_large());
    }

    /// Feed `parts` one after the other as reads, as the probe does.
    fn body(framing: Framing, parts: &[&[u8]]) -> Result<(Vec<u8>, bool, bool), String> {
        let mut buf = Buffer::take();
        let mut b = Body::new(framing);
        b.absorb(&mut buf)?;
        for p in parts {
            if b.complete() {
                break;
            }
            let mut rest = *p;
            while !rest.is_empty() {
                let room = buf.spare(b.read_limit());
                assert!(!room.is_empty(), "no room to read");
                let n = room.len().min(rest.len());
                room[..n].copy_from_slice(&rest[..n]);
                buf.filled(n);
                rest = &rest[n..];
                b.absorb(&mut buf)?;
                if b.complete() {
                    break;
                }
            }
        }
        Ok((buf.bytes()[..b.len()].to_vec(), b.complete(), b.truncated()))
    }

    #[test]
    fn length_bodies_stop_at_their_length() {
        let (b, done, trunc) = body(Framing::Length(2), &[b"okJUNK"]).unwrap();
        assert_eq!((&b[..], done, trunc), (&b"ok"[..], true, false));
        let (b, done, _) = body(Framing::Length(4), &[b"o", b"k", b"a"]).unwrap();
        assert_eq!((&b[..], done), (&b"oka"[..], false));
        let big = vec![b'x'; MAX_READ + 10];
        let (b, done, trunc) = body(Framing::Length(big.len() as u64), &[&big]).unwrap();
        assert_eq!((b.len(), done, trunc), (MAX_READ, true, true));
        let exact = vec![b'x'; MAX_READ];
        let (_, done, trunc) = body(Framing::Length(MAX_READ as u64), &[&exact]).unwrap();
        assert_eq!((done, trunc), (true, false));
    }

    #[test]
    fn chunked_bodies_are_decoded_across_any_split() {
        let wire: &[u8] = b"3\r\nabc\r\n4;ext=1\r\ndefg\r\n1\r\nh\r\n0\r\nTrailer: x\r\n\r\nJUNK";
        for size in 1..wire.len() {
            let parts: Vec<&[u8]> = wire.chunks(size).collect();
            let (b, done, trunc) = body(Framing::Chunked, &parts).unwrap();
            assert_eq!(&b[..], b"abcdefgh", "reads of {size}");
            assert!(done && !trunc, "reads of {size}");
        }
        // Not finished: incomplete, not truncated data.
        let (b, done, _) = body(Framing::Chunked, &[b"3\r\nab"]).unwrap();
        assert_eq!((&b[..], done), (&b"ab"[..], false));
    }

    #[test]
    fn chunked_bodies_keep_max_read() {
        let mut wire = Vec::new();
        for _ in 0..(MAX_READ / 1000 + 2) {
            write!(wire, "3e8\r\n{}\r\n", "y".repeat(1000)).unwrap();
        }
        wire.extend_from_slice(b"0\r\n\r\n");
        let (b, done, trunc) = body(Framing::Chunked, &[&wire]).unwrap();
        assert_eq!((b.len(), done, trunc), (MAX_READ, true, true));
        // Exactly MAX_READ then the last chunk: whole, not truncated.
        let mut wire = format!("{MAX_READ:x}\r\n").into_bytes();
        wire.extend_from_slice(&vec![b'z'; MAX_READ]);
        wire.extend_from_slice(b"\r\n0\r\n\r\n");
        let mut buf = Buffer::take();
        buf.render(|w| w.write_all(&wire));
        let mut b = Body::new(Framing::Chunked);
        b.absorb(&mut buf).unwrap();
        assert_eq!(
            (b.len(), b.complete(), b.truncated()),
            (MAX_READ, true, false)
        );
        // When the last chunk has not arrived with the data, it is not
        // waited for: MAX_READ bytes are in, the rest may be more body.
        let (b, done, trunc) = body(Framing::Chunked, &[&wire]).unwrap();
        assert_eq!((b.len(), done), (MAX_READ, true));
        assert!(trunc);
    }

    #[test]
    fn bad_chunks_are_invalid() {
        let e = |w: &[u8]| body(Framing::Chunked, &[w]).unwrap_err();
        assert_eq!(e(b"zz\r\n"), invalid("invalid chunk size line"));
        assert_eq!(e(b"\r\n"), invalid("invalid chunk size line"));
        assert_eq!(e(b"3\r\nabcX\r\n"), invalid("invalid chunk data end"));
        assert_eq!(e(b"1\n"), invalid("invalid chunk size line"));
        let long = format!("1;{}", "e".repeat(2 * MAX_CHUNK_LINE));
        assert_eq!(e(long.as_bytes()), invalid("invalid chunk size line"));
    }

    #[test]
    fn close_delimited_bodies_end_at_eof_or_max_read() {
        let mut b = Body::new(Framing::Close);
        assert!(!b.complete());
        assert_eq!(b.eof(), Ok(()));
        assert!(b.complete() && !b.truncated());
        let mut l = Body::new(Framing::Length(3));
        assert_eq!(l.eof(), Err(INCOMPLETE_BODY.to_string()));
        let big = vec![b'a'; MAX_READ + 1];
        let (b, done, trunc) = body(Framing::Close, &[&big]).unwrap();
        assert_eq!((b.len(), done, trunc), (MAX_READ, true, true));
    }
}
