//! `Probe::Http` against scripted loopback servers that send the response
//! in pieces: chunked bodies, interim responses, bytes after the body, heads
//! and bodies split over many reads, bodies beyond the read limit, responses
//! without a body, malformed heads.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{https_server, Reply};
use ldirectord_checks::{run, HttpProbe, Outcome, Probe, MAX_READ};
use regex::bytes::Regex;
use tokio::io::AsyncWriteExt;

const T: Duration = Duration::from_secs(3);

/// What the server does after its last piece.
#[derive(Clone, Copy)]
enum End {
    Close,
    /// Keep the connection open (until the probe closes it).
    Hang,
}

/// A server that reads the request head, then writes each piece after
/// waiting its pause (TCP_NODELAY, so each piece is its own segment).
async fn scripted(pieces: Vec<(Duration, Vec<u8>)>, end: End) -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        for _ in 0..common::MAX_CONNS {
            let Ok((mut s, _)) = l.accept().await else {
                break;
            };
            let pieces = pieces.clone();
            tokio::spawn(async move {
                let _ = s.set_nodelay(true);
                let _ = common::read_head(&mut s).await;
                for (pause, bytes) in pieces {
                    tokio::time::sleep(pause).await;
                    if s.write_all(&bytes).await.is_err() {
                        return;
                    }
                }
                match end {
                    End::Close => {
                        let _ = s.shutdown().await;
                    }
                    End::Hang => {
                        let mut sink = [0u8; 256];
                        while let Ok(n) = tokio::io::AsyncReadExt::read(&mut s, &mut sink).await {
                            if n == 0 {
                                break;
                            }
                        }
                    }
                }
            });
        }
    });
    addr
}

/// One piece, at once.
fn whole(bytes: impl Into<Vec<u8>>) -> Vec<(Duration, Vec<u8>)> {
    vec![(Duration::ZERO, bytes.into())]
}

/// Pieces sent `pause` apart.
fn paced(pause_ms: u64, parts: &[&[u8]]) -> Vec<(Duration, Vec<u8>)> {
    parts
        .iter()
        .map(|p| (Duration::from_millis(pause_ms), p.to_vec()))
        .collect()
}

/// Every byte on its own, 1 ms apart.
fn bytewise(bytes: &[u8]) -> Vec<(Duration, Vec<u8>)> {
    bytes
        .iter()
        .map(|b| (Duration::from_millis(1), vec![*b]))
        .collect()
}

fn get(receive: Option<&str>) -> Probe {
    Probe::Http(HttpProbe {
        receive: receive.map(|r| Regex::new(r).unwrap().into()),
        ..HttpProbe::default()
    })
}

async fn probe(addr: SocketAddr, receive: Option<&str>) -> Outcome {
    run(&get(receive), addr, T).await
}

fn assert_up(out: &Outcome, reason: &str) {
    assert!(out.up, "{out:?}");
    assert_eq!(out.reason, reason);
}

fn assert_down(out: &Outcome, reason: &str) {
    assert!(!out.up, "{out:?}");
    assert_eq!(out.reason, reason);
}

const CHUNKED_HEAD: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";

#[tokio::test]
async fn chunked_body_is_matched_across_chunk_boundaries() {
    let addr = scripted(
        paced(
            20,
            &[
                CHUNKED_HEAD,
                b"5\r\nhello\r\n",
                b"7\r\n wor",
                b"ld!\r\n",
                b"0\r\n\r\n",
            ],
        ),
        End::Close,
    )
    .await;
    assert_up(&probe(addr, Some("lo wo")).await, "HTTP 200");
    // The decoded body is exactly the chunks' data.
    assert_up(&probe(addr, Some("^hello world!$")).await, "HTTP 200");
    // The chunk framing is not part of the body.
    assert_down(
        &probe(addr, Some(r"hello\r\n")).await,
        r#"body did not match "hello\r\n""#,
    );
}

#[tokio::test]
async fn chunked_response_sent_byte_by_byte_is_decoded() {
    let mut r = CHUNKED_HEAD.to_vec();
    r.extend_from_slice(b"3;name=value\r\nabc\r\n5\r\ndefgh\r\n0\r\nX-Trailer: 1\r\n\r\n");
    let addr = scripted(bytewise(&r), End::Close).await;
    assert_up(&probe(addr, Some("^abcdefgh$")).await, "HTTP 200");
}

#[tokio::test]
async fn chunked_body_cut_short_is_down() {
    let mut r = CHUNKED_HEAD.to_vec();
    r.extend_from_slice(b"5\r\nab");
    let addr = scripted(whole(r), End::Close).await;
    assert_down(
        &probe(addr, Some("zz")).await,
        "connection closed before end of body",
    );
}

#[tokio::test]
async fn bad_chunk_size_is_an_invalid_response() {
    let mut r = CHUNKED_HEAD.to_vec();
    r.extend_from_slice(b"xyz\r\nabc\r\n0\r\n\r\n");
    let addr = scripted(whole(r), End::Close).await;
    assert_down(
        &probe(addr, Some("abc")).await,
        "invalid HTTP response: invalid chunk size line",
    );
}

#[tokio::test]
async fn pipelined_junk_after_the_body_is_not_body() {
    let junk = b"HTTP/1.1 500 Oops\r\nContent-Length: 3\r\n\r\nzzz";
    let mut r = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec();
    r.extend_from_slice(junk);
    let addr = scripted(whole(r), End::Hang).await;
    assert_up(&probe(addr, None).await, "HTTP 200");
    assert_up(&probe(addr, Some("^ok$")).await, "HTTP 200");
    assert_down(
        &probe(addr, Some("zzz")).await,
        r#"body did not match "zzz""#,
    );

    // The same after a chunked body: its last chunk ends it.
    let mut r = CHUNKED_HEAD.to_vec();
    r.extend_from_slice(b"2\r\nok\r\n0\r\n\r\n");
    r.extend_from_slice(junk);
    let addr = scripted(whole(r), End::Hang).await;
    assert_up(&probe(addr, Some("^ok$")).await, "HTTP 200");
    assert_down(
        &probe(addr, Some("zzz")).await,
        r#"body did not match "zzz""#,
    );
}

#[tokio::test]
async fn interim_responses_before_the_final_one_are_skipped() {
    let addr = scripted(
        paced(
            20,
            &[
                b"HTTP/1.1 100 Continue\r\n\r\n",
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            ],
        ),
        End::Close,
    )
    .await;
    assert_up(&probe(addr, Some("^ok$")).await, "HTTP 200");

    // Several, with headers, split across reads; the final one is a 503.
    let r = b"HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n";
    let addr = scripted(bytewise(r), End::Close).await;
    assert_down(&probe(addr, None).await, "HTTP 503");

    // Only an interim response, then the close.
    let addr = scripted(whole(&b"HTTP/1.1 100 Continue\r\n\r\n"[..]), End::Close).await;
    assert_down(
        &probe(addr, None).await,
        "connection closed before response",
    );

    // 101 is a final answer, and not a 2xx.
    let addr = scripted(
        whole(&b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n"[..]),
        End::Hang,
    )
    .await;
    assert_down(&probe(addr, None).await, "HTTP 101");
}

#[tokio::test]
async fn head_split_across_reads_is_parsed() {
    let addr = scripted(
        bytewise(b"HTTP/1.1 200 OK\r\nServer: test\r\nContent-Length: 5\r\n\r\nalive"),
        End::Close,
    )
    .await;
    assert_up(&probe(addr, None).await, "HTTP 200");
    assert_up(&probe(addr, Some("^alive$")).await, "HTTP 200");
}

#[tokio::test]
async fn body_split_across_many_small_reads_is_matched_whole() {
    // 200 bytes, one per write: the match spans every read boundary.
    let body = format!("{}b", "a".repeat(199));
    let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
    let mut pieces = whole(head);
    pieces.extend(bytewise(body.as_bytes()));
    let addr = scripted(pieces, End::Close).await;
    assert_up(&probe(addr, Some("^a{199}b$")).await, "HTTP 200");
    assert_down(
        &probe(addr, Some("^a{200}")).await,
        r#"body did not match "^a{200}""#,
    );
}

#[tokio::test]
async fn a_match_at_the_end_of_a_partial_body_waits_for_the_rest() {
    // 5 KiB arrive, ending in "ok"; "ay" and more follow 100 ms later.
    let first = format!("{}ok", "x".repeat(5000));
    let rest = format!("ay{}", "x".repeat(3000));
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
        first.len() + rest.len()
    );
    let addr = scripted(
        vec![
            (Duration::ZERO, [head.as_bytes(), first.as_bytes()].concat()),
            (Duration::from_millis(100), rest.into_bytes()),
        ],
        End::Close,
    )
    .await;
    // Matches of the part that arrived first, but not of the whole body.
    assert_down(
        &probe(addr, Some("ok$")).await,
        r#"body did not match "ok$""#,
    );
    assert_down(
        &probe(addr, Some(r"ok\b")).await,
        r#"body did not match "ok\b""#,
    );
    assert_up(&probe(addr, Some(r"okay\B")).await, "HTTP 200");
}

#[tokio::test]
async fn an_early_match_does_not_wait_for_the_end_of_the_body() {
    // A body announced as 1 MB; 5 KiB of it arrive, then nothing more.
    let part = format!("{}needle{}", "x".repeat(100), "x".repeat(5000));
    let head = "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n";
    let addr = scripted(
        whole([head.as_bytes(), part.as_bytes()].concat()),
        End::Hang,
    )
    .await;
    let start = Instant::now();
    assert_up(&probe(addr, Some("needle")).await, "HTTP 200");
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    // Without a match the whole (up to the limit) is awaited: the deadline.
    let out = run(&get(Some("zzz")), addr, Duration::from_millis(500)).await;
    assert_down(&out, "timed out after 500ms");
}

#[tokio::test]
async fn a_response_bigger_than_the_read_limit_is_matched_in_its_first_bytes() {
    let mut body = "x".repeat(3 * MAX_READ);
    body.replace_range(100..106, "early!");
    body.replace_range(2 * MAX_READ..2 * MAX_READ + 6, "late!!");
    let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
    let addr = scripted(
        whole([head.as_bytes(), body.as_bytes()].concat()),
        End::Close,
    )
    .await;
    assert_up(&probe(addr, Some("early!")).await, "HTTP 200");
    assert_down(
        &probe(addr, Some("late!!")).await,
        &format!(r#"body did not match "late!!" in the first {MAX_READ} bytes"#),
    );

    // Chunked, in 1000-byte chunks: a match across a chunk boundary just
    // inside the limit is found, one just beyond it is not.
    let mut body = "y".repeat(MAX_READ + 5000);
    body.replace_range(MAX_READ - 1010..MAX_READ - 990, "inside-the-limit-ok!");
    body.replace_range(MAX_READ + 10..MAX_READ + 18, "too-late");
    let mut r = CHUNKED_HEAD.to_vec();
    for c in body.as_bytes().chunks(1000) {
        r.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        r.extend_from_slice(c);
        r.extend_from_slice(b"\r\n");
    }
    r.extend_from_slice(b"0\r\n\r\n");
    let addr = scripted(whole(r), End::Close).await;
    assert_up(&probe(addr, Some("inside-the-limit-ok!")).await, "HTTP 200");
    assert_down(
        &probe(addr, Some("too-late")).await,
        &format!(r#"body did not match "too-late" in the first {MAX_READ} bytes"#),
    );
}

#[tokio::test]
async fn responses_without_a_body_are_not_read_further() {
    // A 204 that announces a length and then holds the connection: no body
    // is awaited; `receive` is matched against the empty body.
    let addr = scripted(
        whole(&b"HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n"[..]),
        End::Hang,
    )
    .await;
    assert_up(&probe(addr, Some("^$")).await, "HTTP 204");
    assert_down(&probe(addr, Some("x")).await, r#"body did not match "x""#);

    let addr = scripted(
        whole(&b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n"[..]),
        End::Hang,
    )
    .await;
    assert_down(&probe(addr, None).await, "HTTP 304");

    // HEAD: the length is the GET's; there is no body.
    let addr = scripted(
        whole(&b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"[..]),
        End::Hang,
    )
    .await;
    let head = Probe::Http(HttpProbe {
        head: true,
        receive: Some(Regex::new("^$").unwrap().into()),
        ..HttpProbe::default()
    });
    assert_up(&run(&head, addr, T).await, "HTTP 200");
}

#[tokio::test]
async fn close_delimited_body_ends_at_the_close() {
    let addr = scripted(
        paced(10, &[b"HTTP/1.0 200 OK\r\n\r\nstill ", b"alive"]),
        End::Close,
    )
    .await;
    assert_up(&probe(addr, Some("^still alive$")).await, "HTTP 200");
}

#[tokio::test]
async fn malformed_heads_are_invalid_responses() {
    for (response, reason) in [
        (
            &b"HTTP/1.1 2x0 OK\r\n\r\n"[..],
            "invalid HTTP status-code parsed",
        ),
        (
            b"HTTP/1.1 099 Low\r\n\r\n",
            "invalid HTTP status-code parsed",
        ),
        (b"HTTP/1.1 20 OK\r\n\r\n", "invalid HTTP status-code parsed"),
        (b"HTTP/2 200 OK\r\n\r\n", "invalid HTTP version parsed"),
        (b"ICY 200 OK\r\n\r\n", "invalid HTTP version parsed"),
        (
            b"HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n",
            "invalid HTTP header parsed",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
            "invalid content-length parsed",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: two\r\n\r\nok",
            "invalid content-length parsed",
        ),
    ] {
        let addr = scripted(whole(response), End::Hang).await;
        let out = probe(addr, Some("ok")).await;
        assert_down(&out, &format!("invalid HTTP response: {reason}"));
    }
}

#[tokio::test]
async fn many_checks_in_a_row_agree() {
    // Buffers are reused between checks: no state may leak from one to the
    // next (a long response, then short ones).
    let long = scripted(
        whole(format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{}",
            3 * MAX_READ,
            "q".repeat(3 * MAX_READ)
        )),
        End::Close,
    )
    .await;
    let short = scripted(
        whole(&b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"[..]),
        End::Close,
    )
    .await;
    for _ in 0..20 {
        assert_down(
            &probe(long, Some("ok")).await,
            &format!(r#"body did not match "ok" in the first {MAX_READ} bytes"#),
        );
        assert_up(&probe(short, Some("^ok$")).await, "HTTP 200");
        assert_down(&probe(short, Some("q")).await, r#"body did not match "q""#);
    }
}

#[tokio::test]
async fn https_chunked_and_close_delimited_bodies_are_matched() {
    let mut r = CHUNKED_HEAD.to_vec();
    r.extend_from_slice(b"4\r\nsecu\r\n3\r\nre!\r\n0\r\n\r\n");
    let srv = https_server(&["a.test"], Reply::Bytes(r)).await;
    let p = |receive: &str| {
        Probe::Http(HttpProbe {
            tls: true,
            receive: Some(Regex::new(receive).unwrap().into()),
            ..HttpProbe::default()
        })
    };
    assert_up(&run(&p("^secure!$"), srv.addr, T).await, "HTTP 200");

    let srv = https_server(
        &["a.test"],
        Reply::Bytes(b"HTTP/1.0 200 OK\r\n\r\nclose-delimited".to_vec()),
    )
    .await;
    assert_up(&run(&p("delimited$"), srv.addr, T).await, "HTTP 200");
}
