//! Health-check probes for ldirectord-rs.
//!
//! One file per protocol. Every probe runs under one hard total deadline
//! (connect + send + every read together) and reads a bounded number of bytes,
//! so a backend that accepts and never answers, or answers forever, costs one
//! timer and a fixed buffer, and never delays any other check. This crate knows
//! nothing of IPVS: it takes an address and a [`Probe`], and returns an
//! [`Outcome`].
//!
//! # Layout
//! One line per file; imports go down this list, never up (lib.rs aside,
//! which every file uses for the shared types and reason helpers).
//! - `lib.rs`: the shared types ([`Probe`], [`HttpProbe`], [`Outcome`], ...),
//!   the entry point [`run`] (deadline, latency), `checktype=on`/`off`, reasons.
//! - `tcp.rs`: [`Probe::Connect`], a TCP connect then close.
//! - `http.rs`: [`Probe::Http`], HTTP and HTTPS: a lean HTTP/1.1 exchange
//!   (one write, bounded reads into a reused buffer parsed with httparse;
//!   `http/`) over tokio-rustls (ring provider) for https; certificates are
//!   not verified unless [`HttpProbe::verify_tls`] is set; redirects to the
//!   same real followed; the accepted statuses in [`StatusCodes`].
//! - `simpletcp.rs`: [`Probe::SimpleTcp`], send bytes, wait for a regex.
//! - `external.rs`: [`Probe::External`], a command in its own process group.
//! - `banner.rs`: [`Probe::Banner`] and [`Probe::MailLogin`], connect (TLS
//!   for imaps/pops), run the protocol's dialogue, then the polite goodbye.
//! - `smtp.rs`, `pop.rs`, `imap.rs`, `nntp.rs`: each one protocol's dialogue
//!   for `banner.rs` (smtp also for submission; pop and imap also log in).
//! - `ftp.rs`: [`Probe::Ftp`], greeting, login, and optionally one RETR.
//! - `sip.rs`: [`Probe::Sip`], an OPTIONS request over UDP or TCP.
//! - `dns.rs`: [`Probe::Dns`], one A (or PTR) query to the server itself.
//! - `ping.rs`: [`Probe::Ping`], ICMP (ICMPv6) echo, ping socket else raw.
//! - `mysql.rs`, `pgsql.rs`: [`Probe::Mysql`], [`Probe::Pgsql`], login and
//!   one query; `sql.rs` holds their shared [`SqlProbe`] and verdict.
//! - `ldap.rs`: [`Probe::Ldap`], bind and a base search (ldap and ldaps).
//! - `radius.rs`: [`Probe::Radius`], one Access-Request.
//! - `http_proxy.rs`: [`Probe::HttpProxy`], a GET through the real as proxy
//!   (the same exchange as `http.rs`).
//! - `oracle.rs`: why `service=oracle` is refused (no honest probe).
//! - `wire.rs`: the bounded frame reader of the binary protocols.
//! - `attempts.rs`: [`run_attempts`], a probe tried up to N times
//!   (`checkcount`).
//! - `lines.rs`: [`Lines`] and [`Reply`], the bounded line reader/writer of
//!   the line protocols (and of the director's SMTP alert client).
//! - `tls.rs`: the TLS client of https, imaps and pops (ring, SNI rule,
//!   [`TlsOptions`]); `tls/files.rs` reads CA bundles and client
//!   certificates, `tls/not_after.rs` a certificate's end of validity.
//! - `random.rs`: random ids and tokens (dns, sip, ping).
//! - `sys.rs`: every `unsafe` call (socket registration, recvfrom, ICMPv6
//!   filter, kill); `unsafe_code` is denied everywhere else.
//!
//! Reasons are short, stable strings meant for logs: `connection refused`,
//! `connection reset`, `HTTP 503`, `timed out after 3s`,
//! `body did not match "rs"`, `TLS handshake failed: <detail>`,
//! `invalid HTTP response: <detail>`, `exit status 1: <first stderr line>`,
//! `unexpected greeting "554 no service"`, `SMTP 220`, `DNS A 10.0.0.1`,
//! `DNS NXDOMAIN for www.example.com`, `SIP 200`, `SIP 404 Not Found`,
//! `echo reply in 0.3ms`, `no echo reply`.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::Instant;

mod attempts;
mod banner;
mod der;
mod dns;
mod external;
mod ftp;
mod http;
mod http_proxy;
mod imap;
mod ldap;
mod lines;
mod mysql;
mod nntp;
mod oracle;
mod pgsql;
mod ping;
mod pop;
mod radius;
mod random;
mod simpletcp;
mod sip;
mod smtp;
mod sql;
mod sys;
mod tcp;
mod tls;
mod udp;
mod wire;
pub use attempts::run_attempts;
pub use http::StatusCodes;
pub use http_proxy::HttpProxyProbe;
pub use ldap::LdapProbe;
pub use oracle::ORACLE_NOT_SUPPORTED;
pub use radius::RadiusProbe;
pub use sql::SqlProbe;
pub use tls::TlsOptions;

/// The bounded line reader of the line protocols (also used by the director's
/// SMTP alert client).
pub use lines::{Lines, Reply};

/// A compiled `receive` pattern, shared between checks. Share one (clone
/// the `Arc`) rather than cloning a `Regex`: each `Regex` clone gets its own
/// pool of matching caches, a few KB each, which at 10,000 reals is tens of
/// MB for one pattern.
pub type Pattern = std::sync::Arc<regex::bytes::Regex>;

/// Most bytes any probe reads from a server (headers + body).
pub const MAX_READ: usize = 64 * 1024;

/// Most bytes kept from each of an external command's stdout and stderr.
pub const MAX_EXTERNAL_OUTPUT: usize = 4 * 1024;

/// What to do against a server.
#[derive(Debug, Clone)]
pub enum Probe {
    /// Always up (`checktype=on`).
    On,
    /// Always down (`checktype=off`).
    Off,
    /// TCP connect, then close.
    Connect,
    /// HTTP or HTTPS request; up on 2xx (or the statuses of
    /// [`HttpProbe::status`]) with a body matching `receive`, redirects to
    /// the same real followed.
    Http(HttpProbe),
    /// Send `request`, read until `receive` matches (`service=simpletcp`).
    SimpleTcp { request: Vec<u8>, receive: Pattern },
    /// Run a command; exit 0 = up (`checktype=external`). The caller passes
    /// `vip vport rip rport` in `args`; they are passed as given, no shell.
    External { command: String, args: Vec<String> },
    /// A line protocol where the server speaks first (`service=smtp`,
    /// `submission`, `pop`, `pops`, `imap`, `imaps`, `nntp`): read the
    /// greeting, expect the protocol's OK, then say goodbye politely. With
    /// `tls`, the whole session is inside TLS from the first byte (imaps,
    /// pops); the certificate is not verified, as in ldirectord.
    Banner { protocol: BannerProtocol, tls: bool },
    /// `service=pop|pops|imap|imaps` with a `login`: the greeting as for
    /// [`Probe::Banner`], then a login (POP3 `USER`/`PASS`/`STAT`, IMAP
    /// `LOGIN`), up when the server accepts it; then goodbye.
    MailLogin(MailLoginProbe),
    /// `service=ftp`: greeting, login, optionally one file retrieved.
    Ftp(FtpProbe),
    /// `service=dns`: one query to the server itself.
    Dns(DnsProbe),
    /// `service=sip`: an OPTIONS request; up on `SIP/2.0 200`.
    Sip { transport: Transport },
    /// ICMP (ICMPv6) echo to the address, port ignored (`checktype=ping`,
    /// and `checktype=connect` on a UDP virtual): up on an echo reply.
    /// Up to three requests within the deadline.
    Ping,
    /// `service=mysql`: log in, run a query, judge its first row.
    Mysql(SqlProbe),
    /// `service=pgsql`: log in, run a query, judge its first row.
    Pgsql(SqlProbe),
    /// `service=ldap` / `ldaps`: bind, then a base search.
    Ldap(LdapProbe),
    /// `service=radius`: an Access-Request; up on Access-Accept.
    Radius(RadiusProbe),
    /// `service=http_proxy`: an absolute URL fetched through the real.
    HttpProxy(HttpProxyProbe),
}

/// The protocols of [`Probe::Banner`], with what is up for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BannerProtocol {
    /// Greeting `220`, then `EHLO` (`HELO` when EHLO is not recognised)
    /// answered `250`, as Perl's Net::SMTP does; then `QUIT`.
    /// Also for submission (port 587): same protocol.
    Smtp,
    /// POP3: greeting `+OK`, then `QUIT`.
    Pop,
    /// IMAP: greeting `* OK` (or `* PREAUTH`), then `LOGOUT`.
    Imap,
    /// NNTP: greeting `200` or `201`, then `QUIT`.
    Nntp,
}

/// The protocols of [`Probe::MailLogin`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MailProtocol {
    /// POP3: greeting `+OK`, `USER` and `PASS` answered `+OK`, then `STAT`
    /// answered `+OK` (the mailbox opens), as Mail::POP3Client does for
    /// ldirectord; then `QUIT`.
    Pop,
    /// IMAP: greeting `* OK`, then `LOGIN` answered with a tagged `OK`, as
    /// Net::IMAP::Simple does for ldirectord (a `* PREAUTH` greeting is
    /// already logged in: up without `LOGIN`); then `LOGOUT`.
    Imap,
}

/// `service=pop|pops|imap|imaps` with `login` (and `passwd`).
///
/// ldirectord logs in only when `login` is set; without it, its POP check
/// is up whatever the server does (even when nothing listens), its IMAP
/// check looks at the greeting. Without a login use [`Probe::Banner`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MailLoginProbe {
    pub protocol: MailProtocol,
    /// The whole session inside TLS from the first byte (pops, imaps); the
    /// certificate is not verified, as in ldirectord.
    pub tls: bool,
    /// `login`. Never empty in practice (the caller uses
    /// [`Probe::Banner`] then); an empty one is down here.
    pub user: String,
    /// `passwd`; may be empty. Never written to a reason.
    pub password: String,
}

impl MailLoginProbe {
    /// Why the login cannot be sent at all: no login, or a line break (or
    /// NUL) in the login or password, which would end the command early.
    pub(crate) fn problem(&self) -> Option<&'static str> {
        let bad = |s: &str| s.contains(['\r', '\n', '\0']);
        if self.user.is_empty() {
            Some("no login given")
        } else if bad(&self.user) || bad(&self.password) {
            Some("login or passwd contains a line break or NUL")
        } else {
            None
        }
    }
}

/// Datagrams or a stream, for the services that have both (dns, sip).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
}

/// `service=ftp`.
#[derive(Debug, Clone)]
pub struct FtpProbe {
    /// Login name; `anonymous` by default (Net::FTP's default too).
    pub user: String,
    /// Password; `-anonymous@` by default (Net::FTP's anonymous default).
    pub password: String,
    /// A file to RETR over a passive data connection (EPSV, else PASV; the
    /// data connection always goes to the server's own address, whatever
    /// address a PASV reply names). `None`: up once logged in.
    pub retrieve: Option<String>,
    /// Regex the retrieved file must match (its first [`MAX_READ`] bytes);
    /// only used with `retrieve`.
    pub receive: Option<Pattern>,
}

impl Default for FtpProbe {
    /// Anonymous login, no file.
    fn default() -> Self {
        FtpProbe {
            user: "anonymous".to_string(),
            password: "-anonymous@".to_string(),
            retrieve: None,
            receive: None,
        }
    }
}

/// `service=dns`.
#[derive(Debug, Clone)]
pub struct DnsProbe {
    /// The name to look up, type A; an IP address is looked up as its PTR
    /// name (as Net::DNS does); empty is the root `.`.
    pub name: String,
    /// Regex one A address (dotted text) or PTR name of the answer must
    /// match; `None`: any A (or PTR) record in the answer is up.
    pub receive: Option<Pattern>,
    /// UDP (retried over TCP when the answer is truncated) or TCP.
    pub transport: Transport,
}

#[derive(Debug, Clone)]
pub struct HttpProbe {
    /// https when true.
    pub tls: bool,
    /// HEAD when true, else GET.
    pub head: bool,
    /// Request target, starting with `/`.
    pub path: String,
    /// Host header and TLS SNI; the address when `None`. SNI is sent only
    /// when this is a DNS name (an optional `:port` suffix is ignored for SNI).
    pub host: Option<String>,
    /// Regex the body must match (searched in the first [`MAX_READ`] bytes).
    pub receive: Option<Pattern>,
    /// Verify the server certificate against the CAs (see
    /// [`TlsOptions::cafile`]) and the name (the SNI override, else `host`,
    /// else the IP address). Off by default: a health check wants to know
    /// the server answers, and backends often carry certificates for the
    /// virtual name only, or self-signed ones.
    pub verify_tls: bool,
    /// The final statuses that are up (`httpstatus=`); any 2xx by default.
    /// A redirect whose status is listed is a final answer, not followed.
    pub status: StatusCodes,
    /// https: CA bundle, client certificate, SNI override.
    pub tls_options: Option<std::sync::Arc<TlsOptions>>,
}

impl Default for HttpProbe {
    /// `GET /` over plain HTTP, Host = the address, any 2xx is up.
    fn default() -> Self {
        HttpProbe {
            tls: false,
            head: false,
            path: "/".to_string(),
            host: None,
            receive: None,
            verify_tls: false,
            status: StatusCodes::default(),
            tls_options: None,
        }
    }
}

/// The verdict of one probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub up: bool,
    /// Time from start to verdict.
    pub latency: Duration,
    /// Why it is down (`connection refused`, `HTTP 503`, `timed out after
    /// 3s`, `body did not match "rs"`), or a short note when up (`HTTP 200`).
    pub reason: String,
    /// When the certificate the server sent stops being valid (https
    /// checks that got as far as the handshake).
    pub cert_not_after: Option<std::time::SystemTime>,
}

/// A verdict without its latency: what each protocol module returns.
pub(crate) type Verdict = (bool, String);

pub(crate) fn up(reason: impl Into<String>) -> Verdict {
    (true, reason.into())
}

pub(crate) fn down(reason: impl Into<String>) -> Verdict {
    (false, reason.into())
}

/// Run `probe` against `addr`, finishing within `timeout` whatever the
/// server does.
///
/// The whole probe (connect, TLS, write, every read; for external commands
/// the run and the reading of their output) shares one deadline. On the
/// deadline the probe is dropped (closing its socket, killing its process
/// group) and the outcome is down with reason `timed out after <timeout>`.
pub async fn run(probe: &Probe, addr: SocketAddr, timeout: Duration) -> Outcome {
    let start = Instant::now();
    // A timeout too large for the clock (a config that bypassed the bounds
    // of its parser) is a far future, not a panic.
    let deadline = start
        .checked_add(timeout)
        .or_else(|| start.checked_add(Duration::from_secs(86400 * 365 * 30)))
        .unwrap_or(start);
    let mut cert_not_after = None;
    // The probe under the deadline. (A macro rather than an `async fn`
    // taking the future, which would hold it twice in its state: once as
    // its argument, once inside the timeout.)
    macro_rules! bounded {
        ($probe:expr) => {
            match tokio::time::timeout_at(deadline, $probe).await {
                Ok(v) => v,
                Err(_) => down(timed_out(timeout)),
            }
        };
    }
    // The probes whose futures are large (0.7-9 KB: all but http, connect
    // and simpletcp) are boxed: this future, which a caller moves and boxes
    // per check, is as large as its largest arm: 16.5 KB unboxed, 0.7 KB so.
    let (up, reason) = match probe {
        Probe::On => up("on"),
        Probe::Off => down("off"),
        // External handles the deadline itself, to kill the process group.
        Probe::External { command, args } => {
            Box::pin(external::check(command, args, deadline, timeout)).await
        }
        Probe::Connect => bounded!(tcp::check(addr)),
        Probe::Http(h) => bounded!(http::check(h, addr, &mut cert_not_after)),
        Probe::SimpleTcp { request, receive } => bounded!(simpletcp::check(request, receive, addr)),
        Probe::Banner { protocol, tls } => {
            bounded!(Box::pin(banner::check(*protocol, *tls, addr, deadline)))
        }
        Probe::MailLogin(p) => bounded!(Box::pin(banner::check_login(p, addr, deadline))),
        Probe::Ftp(p) => bounded!(Box::pin(ftp::check(p, addr, deadline))),
        Probe::Dns(p) => bounded!(Box::pin(dns::check(p, addr))),
        Probe::Sip { transport } => bounded!(Box::pin(sip::check(*transport, addr))),
        Probe::Ping => bounded!(Box::pin(ping::check(addr, deadline))),
        Probe::Mysql(p) => bounded!(Box::pin(mysql::check(p, addr, deadline))),
        Probe::Pgsql(p) => bounded!(Box::pin(pgsql::check(p, addr, deadline))),
        Probe::Ldap(p) => bounded!(Box::pin(ldap::check(p, addr, deadline))),
        Probe::Radius(p) => bounded!(Box::pin(radius::check(p, addr))),
        Probe::HttpProxy(p) => bounded!(Box::pin(http_proxy::check(p, addr))),
    };
    Outcome {
        up,
        latency: start.elapsed(),
        reason,
        cert_not_after,
    }
}

/// `timed out after 3s`.
pub(crate) fn timed_out(timeout: Duration) -> String {
    format!("timed out after {}", format_duration(timeout))
}

/// A short human form of a duration: `3s`, `500ms`, `1.5s`, `250us`, `0s`.
pub fn format_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_string();
    }
    if nanos >= 1_000_000_000 {
        let secs = d.as_secs();
        let frac = d.subsec_nanos();
        if frac == 0 {
            return format!("{secs}s");
        }
        let digits = format!("{frac:09}");
        return format!("{secs}.{}s", digits.trim_end_matches('0'));
    }
    let (ms, sub_ms) = (nanos / 1_000_000, nanos % 1_000_000);
    if ms > 0 {
        if sub_ms == 0 {
            return format!("{ms}ms");
        }
        let digits = format!("{sub_ms:06}");
        return format!("{ms}.{}ms", digits.trim_end_matches('0'));
    }
    let (us, sub_us) = (nanos / 1_000, nanos % 1_000);
    if us > 0 && sub_us == 0 {
        return format!("{us}us");
    }
    format!("{nanos}ns")
}

/// A short reason for a socket error: `connection refused`,
/// `connection reset`, else `<what>: <error>`.
pub(crate) fn io_reason(what: &str, e: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::ConnectionRefused => "connection refused".to_string(),
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted => "connection reset".to_string(),
        _ => format!("{what}: {e}"),
    }
}

/// Connect to `addr` with Nagle off (requests are one small write).
pub(crate) async fn connect(addr: SocketAddr) -> Result<tokio::net::TcpStream, String> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| io_reason("connect failed", &e))?;
    // Best effort: a failure here changes nothing about the verdict.
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// A server's words, quoted for a reason string: at most 100 characters,
/// control characters escaped.
pub(crate) fn quote_text(text: &str) -> String {
    const MAX: usize = 100;
    match text.char_indices().nth(MAX) {
        Some((i, _)) => format!("{:?}...", &text[..i]),
        None => format!("{text:?}"),
    }
}

/// The pattern as written, quoted for a reason string.
pub(crate) fn quote_regex(re: &regex::bytes::Regex) -> String {
    format!("\"{}\"", re.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_format_short() {
        assert_eq!(format_duration(Duration::from_secs(3)), "3s");
        assert_eq!(format_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_duration(Duration::from_millis(1250)), "1.25s");
        assert_eq!(format_duration(Duration::from_micros(1500)), "1.5ms");
        assert_eq!(format_duration(Duration::from_micros(250)), "250us");
        assert_eq!(format_duration(Duration::from_nanos(7)), "7ns");
        assert_eq!(format_duration(Duration::ZERO), "0s");
        assert_eq!(timed_out(Duration::from_secs(3)), "timed out after 3s");
    }

    #[tokio::test]
    async fn on_and_off_need_no_server() {
        // Port 9 on a loopback address; On/Off never touch it.
        let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let on = run(&Probe::On, addr, Duration::from_secs(1)).await;
        assert!(on.up);
        assert_eq!(on.reason, "on");
        let off = run(&Probe::Off, addr, Duration::from_secs(1)).await;
        assert!(!off.up);
        assert_eq!(off.reason, "off");
    }

    #[test]
    fn server_text_is_quoted_and_cut() {
        assert_eq!(quote_text("554 no\tservice"), r#""554 no\tservice""#);
        let long = "x".repeat(300);
        assert_eq!(quote_text(&long), format!("\"{}\"...", "x".repeat(100)));
        // Multi-byte characters are cut on a character boundary.
        assert_eq!(
            quote_text(&"é".repeat(101)),
            format!("\"{}\"...", "é".repeat(100))
        );
    }

    #[test]
    fn regex_is_quoted_as_written() {
        let re = regex::bytes::Regex::new(r"ok\d+").unwrap();
        assert_eq!(quote_regex(&re), r#""ok\d+""#);
    }
}
