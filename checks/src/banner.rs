//! [`crate::Probe::Banner`] (`service=smtp|submission|pop|pops|imap|imaps|nntp`)
//! and [`crate::Probe::MailLogin`] (`pop|pops|imap|imaps` with a `login`):
//! the line protocols where the server speaks first.
//!
//! A check connects (and for imaps/pops does the TLS handshake at once),
//! runs the protocol's dialogue (its own file: `smtp.rs`, `pop.rs`,
//! `imap.rs`, `nntp.rs`), then, whatever the verdict, says goodbye politely
//! when the connection is still open: the protocol's QUIT/LOGOUT, its reply
//! read and discarded until the server closes, for at most
//! [`QUIT_GRACE`](crate::lines::QUIT_GRACE) (and at most half the time left
//! before the check's deadline, so that a server slow to say goodbye never
//! turns a verdict into a timeout).
//!
//! Imports go one way: this file picks a protocol's dialogue; the protocols
//! read and write through `lines.rs`, which imports none of them.

use std::net::{IpAddr, SocketAddr};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

use crate::lines::Lines;
use crate::{connect, down, imap, nntp, pop, smtp};
use crate::{BannerProtocol, MailLoginProbe, MailProtocol, Verdict};

/// What to do once connected.
#[derive(Clone, Copy)]
enum Dialogue<'a> {
    /// The greeting only.
    Greeting(BannerProtocol),
    /// The greeting, then a login.
    Login(&'a MailLoginProbe),
}

/// One check of a [`BannerProtocol`] server. The caller bounds the time by
/// `deadline`; the polite goodbye stays well within it.
pub(crate) async fn check(
    protocol: BannerProtocol,
    tls: bool,
    addr: SocketAddr,
    deadline: Instant,
) -> Verdict {
    open(Dialogue::Greeting(protocol), tls, addr, deadline).await
}

/// One check of a POP3 or IMAP server with a login. The caller bounds the
/// time by `deadline`.
pub(crate) async fn check_login(
    p: &MailLoginProbe,
    addr: SocketAddr,
    deadline: Instant,
) -> Verdict {
    open(Dialogue::Login(p), p.tls, addr, deadline).await
}

async fn open(dialogue: Dialogue<'_>, tls: bool, addr: SocketAddr, deadline: Instant) -> Verdict {
    let tcp = match connect(addr).await {
        Ok(s) => s,
        Err(reason) => return down(reason),
    };
    let local = tcp.local_addr().ok().map(|a| a.ip());
    if tls {
        match crate::tls::handshake(tcp, None, addr, false).await {
            Ok(s) => session(dialogue, Lines::new(s), local, deadline).await,
            Err(reason) => down(reason),
        }
    } else {
        session(dialogue, Lines::new(tcp), local, deadline).await
    }
}

async fn session<S>(
    dialogue: Dialogue<'_>,
    mut c: Lines<S>,
    local: Option<IpAddr>,
    deadline: Instant,
) -> Verdict
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (verdict, quit) = match dialogue {
        Dialogue::Greeting(BannerProtocol::Smtp) => {
            (smtp::dialogue(&mut c, local).await, smtp::QUIT)
        }
        Dialogue::Greeting(BannerProtocol::Pop) => (pop::dialogue(&mut c).await, pop::QUIT),
        Dialogue::Greeting(BannerProtocol::Imap) => (imap::dialogue(&mut c).await, imap::QUIT),
        Dialogue::Greeting(BannerProtocol::Nntp) => (nntp::dialogue(&mut c).await, nntp::QUIT),
        Dialogue::Login(p) => match p.protocol {
            MailProtocol::Pop => (pop::login(&mut c, p).await, pop::QUIT),
            MailProtocol::Imap => (imap::login(&mut c, p).await, imap::LOGIN_QUIT),
        },
    };
    c.quit(quit, deadline).await;
    verdict
}
