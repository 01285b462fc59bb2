//! `service=smtp` and `service=submission`: greeting `220`, then `EHLO`
//! answered `250` (falling back to `HELO` when the server does not know
//! EHLO), as Perl's Net::SMTP (ldirectord's check) does; then `QUIT`.

use std::net::IpAddr;

use tokio::io::{AsyncRead, AsyncWrite};

use crate::lines::Lines;
use crate::{down, up, Verdict};

pub(crate) const QUIT: &str = "QUIT";

pub(crate) async fn dialogue<S>(c: &mut Lines<S>, local: Option<IpAddr>) -> Verdict
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let greeting = match c.reply("greeting").await {
        Ok(r) => r,
        Err(reason) => return down(reason),
    };
    if greeting.code != 220 {
        return down(format!("unexpected greeting {}", greeting.quoted()));
    }
    // RFC 5321 4.1.4: the client's domain, or its address literal.
    let me = match local {
        Some(IpAddr::V4(a)) => format!("[{a}]"),
        Some(IpAddr::V6(a)) => format!("[IPv6:{a}]"),
        None => "localhost".to_string(),
    };
    for hello in ["EHLO", "HELO"] {
        if let Err(reason) = c.send(&format!("{hello} {me}")).await {
            return down(reason);
        }
        let r = match c.reply(&format!("{hello} reply")).await {
            Ok(r) => r,
            Err(reason) => return down(reason),
        };
        match r.code {
            250 => return up("SMTP 220"),
            // Command unrecognised / not implemented: an old server, try HELO.
            500 | 502 if hello == "EHLO" => continue,
            _ => return down(format!("{hello} refused: {}", r.quoted())),
        }
    }
    // Not reached: the HELO round always returns.
    down("HELO not answered")
}
