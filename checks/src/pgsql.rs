//! `service=pgsql`: the PostgreSQL frontend/backend protocol 3.0,
//! hand-written (tokio-postgres brings some forty crates and reads
//! messages of any size; the check needs a handful of messages).
//!
//! The check, as ldirectord's (Perl DBI with DBD::Pg, that is libpq with
//! its defaults): ask for TLS (`sslmode=prefer`: TLS when the server
//! accepts, the certificate not verified, else plain; when the TLS
//! handshake fails, connect once more without TLS); start up as `login`
//! on `database` (libpq's default when none: the database named like the
//! user); authenticate with the method the server asks for: cleartext
//! password, MD5, or SCRAM-SHA-256 (the server's signature is verified);
//! run the query as one simple Query and judge its first row (see
//! [`crate::sql`]); then Terminate.
//!
//! SCRAM: the password is used as given (SASLprep is the identity for the
//! printable ASCII passwords health-check accounts use); the salted key is
//! computed on a blocking thread, and an iteration count above
//! [`MAX_SCRAM_ITERATIONS`] is refused (a server could ask for billions).
//!
//! Bounds: every message within the crate's [`crate::MAX_READ`] budget
//! (a message announcing more is refused before it is read); only the
//! first row is read.

use std::net::SocketAddr;
use std::num::NonZeroU32;

use ring::{digest, hmac, pbkdf2, rand::SecureRandom};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

use crate::sql::{self, QueryResult, SqlProbe};
use crate::wire::Wire;
use crate::{connect, down, quote_text, Verdict};

/// Most PBKDF2 iterations accepted from a server (PostgreSQL's default
/// is 4096).
pub(crate) const MAX_SCRAM_ITERATIONS: u32 = 1_000_000;
/// Most messages read before the first row or the end of the query.
const MAX_MESSAGES: usize = 1024;

const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];
const TERMINATE: [u8; 5] = [b'X', 0, 0, 0, 4];

/// One PostgreSQL check. The caller bounds the time by `deadline`.
pub(crate) async fn check(p: &SqlProbe, addr: SocketAddr, deadline: Instant) -> Verdict {
    sql::check(p, |try_tls| attempt(p, addr, deadline, try_tls)).await
}

/// One connection; with `try_tls`, asking for TLS first. `Err` only when
/// the server refused that request with an error or the TLS handshake
/// failed.
async fn attempt(
    p: &SqlProbe,
    addr: SocketAddr,
    deadline: Instant,
    try_tls: bool,
) -> Result<Verdict, String> {
    let tcp = match connect(addr).await {
        Ok(s) => s,
        Err(reason) => return Ok(down(reason)),
    };
    let mut w = Wire::new(tcp);
    if !try_tls {
        return Ok(session(p, w, deadline).await);
    }
    if let Err(reason) = w.send(&SSL_REQUEST).await {
        return Ok(down(reason));
    }
    let answer = match w.take(1, "answer to the TLS request").await {
        Ok(b) => b[0],
        Err(reason) => return Ok(down(reason)),
    };
    match answer {
        b'N' => Ok(session(p, w, deadline).await),
        b'S' => {
            let tcp = match w.into_stream() {
                Ok(s) => s,
                Err(reason) => return Ok(down(reason)),
            };
            let tls = crate::tls::handshake(tcp, None, addr, false).await?;
            Ok(session(p, Wire::new(tls), deadline).await)
        }
        // A server before 7.0: libpq then connects again without TLS.
        b'E' => Err("an error answer to the TLS request".to_string()),
        other => Ok(down(format!(
            "invalid answer to the TLS request (byte {other:#04x})"
        ))),
    }
}

async fn session<S>(p: &SqlProbe, mut w: Wire<S>, deadline: Instant) -> Verdict
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let verdict = match exchange(p, &mut w).await {
        Ok(v) => v,
        Err(reason) => down(reason),
    };
    w.goodbye(&TERMINATE, deadline).await;
    verdict
}

async fn exchange<S>(p: &SqlProbe, w: &mut Wire<S>) -> Result<Verdict, String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    w.send(&startup(p)).await?;
    authenticate(p, w).await?;
    // After AuthenticationOk: parameters, key data, then ReadyForQuery.
    for _ in 0..MAX_MESSAGES {
        let (t, body) = read_message(w, "ready for query").await?;
        match t {
            b'Z' => break,
            b'E' => return Err(format!("login refused: {}", error_text(&body))),
            b'S' | b'K' | b'N' => {}
            other => return Err(unexpected(other, "before ready for query")),
        }
    }
    let mut q = Vec::with_capacity(p.query.len() + 6);
    q.push(b'Q');
    q.extend_from_slice(&((p.query.len() + 5) as u32).to_be_bytes());
    q.extend_from_slice(p.query.as_bytes());
    q.push(0);
    w.send(&q).await?;
    let mut affected = 0;
    for _ in 0..MAX_MESSAGES {
        let (t, body) = read_message(w, "query result").await?;
        match t {
            b'D' => return Ok(sql::verdict(p, QueryResult::Row(data_row(&body)?))),
            b'C' => affected += command_rows(&body),
            b'E' => return Err(format!("query failed: {}", error_text(&body))),
            b'Z' => return Ok(sql::verdict(p, QueryResult::NoRows { affected })),
            // Row description, empty query, notices, parameter changes.
            b'T' | b'I' | b'N' | b'S' => {}
            other => return Err(unexpected(other, "in the query result")),
        }
    }
    Err(format!(
        "more than {MAX_MESSAGES} messages in the query result"
    ))
}

/// StartupMessage, protocol 3.0.
fn startup(p: &SqlProbe) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&196608u32.to_be_bytes());
    let mut param = |k: &str, v: &str| {
        body.extend_from_slice(k.as_bytes());
        body.push(0);
        body.extend_from_slice(v.as_bytes());
        body.push(0);
    };
    param("user", &p.user);
    if let Some(db) = &p.database {
        param("database", db);
    }
    param("application_name", "ldirectord-rs");
    param("client_encoding", "UTF8");
    body.push(0);
    let mut m = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    m.extend_from_slice(&body);
    m
}

async fn authenticate<S>(p: &SqlProbe, w: &mut Wire<S>) -> Result<(), String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (t, body) = read_message(w, "authentication request").await?;
    match t {
        b'R' => {}
        b'E' => return Err(format!("login refused: {}", error_text(&body))),
        other => return Err(unexpected(other, "instead of an authentication request")),
    }
    let code = be32(&body, 0).ok_or("invalid authentication request")?;
    match code {
        0 => return Ok(()),
        3 => w.send(&password_message(p.password.as_bytes())).await?,
        5 => {
            let salt = body.get(4..8).ok_or("invalid MD5 authentication request")?;
            let hash = md5_password(&p.user, &p.password, salt);
            w.send(&password_message(hash.as_bytes())).await?;
        }
        10 => scram(p, w, &body[4..]).await?,
        other => return Err(format!("authentication method {other} is not supported")),
    }
    let (t, body) = read_message(w, "authentication result").await?;
    match (t, be32(&body, 0)) {
        (b'R', Some(0)) => Ok(()),
        (b'E', _) => Err(format!("login refused: {}", error_text(&body))),
        _ => Err(unexpected(t, "instead of the authentication result")),
    }
}

/// `md5` + md5hex(md5hex(password + user) + salt).
fn md5_password(user: &str, password: &str, salt: &[u8]) -> String {
    let inner = format!("{:x}", md5::compute(format!("{password}{user}")));
    let mut outer = inner.into_bytes();
    outer.extend_from_slice(salt);
    format!("md5{:x}", md5::compute(outer))
}

fn password_message(secret: &[u8]) -> Vec<u8> {
    let mut m = vec![b'p'];
    m.extend_from_slice(&((secret.len() + 5) as u32).to_be_bytes());
    m.extend_from_slice(secret);
    m.push(0);
    m
}

/// SCRAM-SHA-256 (RFC 5802, RFC 7677), without channel binding.
async fn scram<S>(p: &SqlProbe, w: &mut Wire<S>, mechanisms: &[u8]) -> Result<(), String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    const MECH: &str = "SCRAM-SHA-256";
    if !mechanisms.split(|&b| b == 0).any(|m| m == MECH.as_bytes()) {
        return Err(format!(
            "server offers no supported SASL mechanism ({})",
            quote_text(&String::from_utf8_lossy(mechanisms).replace('\0', " "))
        ));
    }
    let nonce = client_nonce()?;
    let client_first_bare = format!("n=,r={nonce}");
    let client_first = format!("n,,{client_first_bare}");
    let mut m = vec![b'p'];
    let len = 4 + MECH.len() + 1 + 4 + client_first.len();
    m.extend_from_slice(&(len as u32).to_be_bytes());
    m.extend_from_slice(MECH.as_bytes());
    m.push(0);
    m.extend_from_slice(&(client_first.len() as u32).to_be_bytes());
    m.extend_from_slice(client_first.as_bytes());
    w.send(&m).await?;

    let server_first = sasl_message(w, 11).await?;
    let (combined, salt, iterations) = parse_server_first(&server_first, &nonce)?;
    let password = p.password.clone();
    let salted = tokio::task::spawn_blocking(move || salted_password(&password, &salt, iterations))
        .await
        .map_err(|e| format!("SCRAM key derivation failed: {e}"))?;
    let client_final_bare = format!("c=biws,r={combined}");
    let auth_message = format!("{client_first_bare},{server_first},{client_final_bare}");
    let (proof, server_signature) = scram_proof(&salted, &auth_message);
    let client_final = format!("{client_final_bare},p={}", b64(&proof));
    w.send(&password_message_raw(client_final.as_bytes()))
        .await?;

    let server_final = sasl_message(w, 12).await?;
    let expected = format!("v={}", b64(&server_signature));
    if let Some(e) = server_final.strip_prefix("e=") {
        return Err(format!("SCRAM failed: {}", quote_text(e)));
    }
    if server_final.split(',').next() != Some(expected.as_str()) {
        return Err(
            "SCRAM server signature invalid (not the server that holds the password)".into(),
        );
    }
    Ok(())
}

/// A SASL message without the trailing NUL of a password message.
fn password_message_raw(data: &[u8]) -> Vec<u8> {
    let mut m = vec![b'p'];
    m.extend_from_slice(&((data.len() + 4) as u32).to_be_bytes());
    m.extend_from_slice(data);
    m
}

/// The next AuthenticationSASLContinue (11) or SASLFinal (12), as text.
async fn sasl_message<S>(w: &mut Wire<S>, code: u32) -> Result<String, String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (t, body) = read_message(w, "SCRAM message").await?;
    match (t, be32(&body, 0)) {
        (b'R', Some(c)) if c == code => Ok(String::from_utf8_lossy(&body[4..]).into_owned()),
        (b'E', _) => Err(format!("login refused: {}", error_text(&body))),
        _ => Err(unexpected(t, "in the SCRAM exchange")),
    }
}

/// `r=<nonce>,s=<salt>,i=<iterations>`: the combined nonce (which must
/// extend ours), the salt, the iteration count.
fn parse_server_first(msg: &str, ours: &str) -> Result<(String, Vec<u8>, u32), String> {
    let invalid = || format!("invalid SCRAM server message {}", quote_text(msg));
    let mut nonce = None;
    let mut salt = None;
    let mut iterations = None;
    for part in msg.split(',') {
        if let Some(v) = part.strip_prefix("r=") {
            nonce = Some(v.to_string());
        } else if let Some(v) = part.strip_prefix("s=") {
            salt = Some(unb64(v).ok_or_else(invalid)?);
        } else if let Some(v) = part.strip_prefix("i=") {
            iterations = Some(v.parse::<u32>().map_err(|_| invalid())?);
        }
    }
    let (Some(nonce), Some(salt), Some(iterations)) = (nonce, salt, iterations) else {
        return Err(invalid());
    };
    if !nonce.starts_with(ours) || nonce.len() == ours.len() {
        return Err("SCRAM server nonce does not extend ours".to_string());
    }
    if iterations == 0 || iterations > MAX_SCRAM_ITERATIONS {
        return Err(format!(
            "SCRAM iteration count {iterations} outside 1..={MAX_SCRAM_ITERATIONS}"
        ));
    }
    Ok((nonce, salt, iterations))
}

fn salted_password(password: &str, salt: &[u8], iterations: u32) -> [u8; 32] {
    let mut out = [0u8; 32];
    let n = NonZeroU32::new(iterations).unwrap_or(NonZeroU32::MIN);
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        n,
        salt,
        password.as_bytes(),
        &mut out,
    );
    out
}

/// The client proof and the server signature we expect.
fn scram_proof(salted: &[u8; 32], auth_message: &str) -> (Vec<u8>, Vec<u8>) {
    let key = hmac::Key::new(hmac::HMAC_SHA256, salted);
    let client_key = hmac::sign(&key, b"Client Key");
    let stored_key = digest::digest(&digest::SHA256, client_key.as_ref());
    let signature = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, stored_key.as_ref()),
        auth_message.as_bytes(),
    );
    let proof = client_key
        .as_ref()
        .iter()
        .zip(signature.as_ref())
        .map(|(a, b)| a ^ b)
        .collect();
    let server_key = hmac::sign(&key, b"Server Key");
    let server_signature = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, server_key.as_ref()),
        auth_message.as_bytes(),
    );
    (proof, server_signature.as_ref().to_vec())
}

fn client_nonce() -> Result<String, String> {
    let mut raw = [0u8; 18];
    ring::rand::SystemRandom::new()
        .fill(&mut raw)
        .map_err(|_| "no random numbers for the SCRAM nonce".to_string())?;
    Ok(b64(&raw))
}

/// A DataRow: the values, NULL as `None`.
fn data_row(body: &[u8]) -> Result<Vec<Option<Vec<u8>>>, String> {
    let invalid = || "invalid data row".to_string();
    let n = body.get(..2).ok_or_else(invalid)?;
    let n = u16::from_be_bytes([n[0], n[1]]);
    let mut pos = 2;
    let mut values = Vec::with_capacity(usize::from(n));
    for _ in 0..n {
        let len = be32(body, pos).ok_or_else(invalid)?;
        pos += 4;
        if len == u32::MAX {
            values.push(None);
            continue;
        }
        let end = pos + len as usize;
        values.push(Some(body.get(pos..end).ok_or_else(invalid)?.to_vec()));
        pos = end;
    }
    Ok(values)
}

/// The rows a CommandComplete tag reports (`UPDATE 3`, `INSERT 0 1`):
/// its last number; 0 for tags without one.
fn command_rows(body: &[u8]) -> u64 {
    let tag = String::from_utf8_lossy(body.strip_suffix(&[0]).unwrap_or(body)).into_owned();
    tag.rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// `28P01 password authentication failed for user "x"` from an
/// ErrorResponse (or NoticeResponse).
fn error_text(body: &[u8]) -> String {
    let mut code = "";
    let mut message = String::new();
    let mut fields = body.split(|&b| b == 0);
    for f in &mut fields {
        let Some((&kind, value)) = f.split_first() else {
            break;
        };
        match kind {
            b'C' => code = std::str::from_utf8(value).unwrap_or(""),
            b'M' => message = String::from_utf8_lossy(value).into_owned(),
            _ => {}
        }
    }
    let text = format!("{code} {message}");
    text.trim().chars().take(200).collect()
}

fn unexpected(t: u8, where_: &str) -> String {
    if t.is_ascii_graphic() {
        format!("unexpected message '{}' {where_}", t as char)
    } else {
        format!("unexpected message {t:#04x} {where_}")
    }
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 4)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// A backend message: type byte, length (itself included), body.
async fn read_message<S>(w: &mut Wire<S>, what: &str) -> Result<(u8, Vec<u8>), String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let h = w.take(5, what).await?;
    let len = be32(&h, 1).unwrap_or(0) as usize;
    if len < 4 {
        return Err(format!("invalid message length {len} in {what}"));
    }
    let body = w.take(len - 4, what).await?;
    Ok((h[0], body))
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
fn b64(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn unb64(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        let v = B64.iter().position(|&b| b == c)? as u32;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip() {
        for data in [&b""[..], b"f", b"fo", b"foo", b"foob", b"fooba", b"foobar"] {
            assert_eq!(unb64(&b64(data)).unwrap(), data);
        }
        assert_eq!(b64(b"foobar"), "Zm9vYmFy");
        assert_eq!(b64(b"fo"), "Zm8=");
        assert_eq!(unb64("Zm9v!"), None);
    }

    #[test]
    fn md5_password_as_libpq() {
        // libpq: "md5" + md5(md5("secret" + "bob") hex + salt) hex; the
        // inner hash is what pg_authid stores for md5 passwords (values
        // from Python's hashlib).
        assert_eq!(
            format!("{:x}", md5::compute("secretbob")),
            "21f3163f8f86fa10bdefbfbd502a8f06"
        );
        assert_eq!(
            md5_password("bob", "secret", &[1, 2, 3, 4]),
            "md5f21dfe33ff3a9e03dbc3e008251fe5cc"
        );
    }

    #[test]
    fn scram_rfc7677_example() {
        // RFC 7677 section 3: user "user", password "pencil".
        let client_first_bare = "n=user,r=rOprNGfwEbeRWgbNEkqO";
        let server_first = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                            s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let (nonce, salt, i) = parse_server_first(server_first, "rOprNGfwEbeRWgbNEkqO").unwrap();
        let salted = salted_password("pencil", &salt, i);
        let final_bare = format!("c=biws,r={nonce}");
        let auth = format!("{client_first_bare},{server_first},{final_bare}");
        let (proof, server) = scram_proof(&salted, &auth);
        assert_eq!(b64(&proof), "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
        assert_eq!(b64(&server), "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
    }

    #[test]
    fn hostile_scram_parameters_are_refused() {
        assert_eq!(
            parse_server_first("r=abcX,s=AAAA,i=2000000000", "abc").unwrap_err(),
            "SCRAM iteration count 2000000000 outside 1..=1000000"
        );
        assert_eq!(
            parse_server_first("r=zzz,s=AAAA,i=4096", "abc").unwrap_err(),
            "SCRAM server nonce does not extend ours"
        );
        assert!(parse_server_first("r=abcX,i=4096", "abc")
            .unwrap_err()
            .starts_with("invalid SCRAM server message"));
    }

    #[test]
    fn rows_and_tags() {
        let mut body = 2u16.to_be_bytes().to_vec();
        body.extend_from_slice(&4u32.to_be_bytes());
        body.extend_from_slice(b"web1");
        body.extend_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(data_row(&body).unwrap(), vec![Some(b"web1".to_vec()), None]);
        assert!(data_row(&body[..7]).is_err());
        assert_eq!(command_rows(b"UPDATE 3\0"), 3);
        assert_eq!(command_rows(b"INSERT 0 1\0"), 1);
        assert_eq!(command_rows(b"SET\0"), 0);
        let err = b"SFATAL\0C28P01\0Mpassword authentication failed for user \"x\"\0\0";
        assert_eq!(
            error_text(err),
            "28P01 password authentication failed for user \"x\""
        );
    }
}
