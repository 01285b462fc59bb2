//! `service=ftp`: greeting `220`, login (`USER`, then `PASS` when asked),
//! and, when the probe names a file, `TYPE I`, a passive data connection
//! (`EPSV`, else `PASV`) and `RETR`, the file's first [`MAX_READ`] bytes
//! matched against `receive`; then `QUIT`.
//!
//! ldirectord (Net::FTP) also logs in, `CWD /`, and RETRs `request`, and is
//! up when the file matches `receive`; with no `receive` it is up whatever
//! happens, even when nothing answers. Here a failed greeting or login is
//! always down, and without a file the check is up once logged in.
//!
//! The data connection goes to the address the control connection uses,
//! never to the address a `PASV` reply names (that may be a private address
//! behind NAT, or anyone's: the classic FTP bounce).

use std::net::SocketAddr;

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::lines::{Lines, Reply};
use crate::{connect, down, io_reason, quote_regex, up, FtpProbe, Verdict, MAX_READ};

/// One FTP check. The caller bounds the time by `deadline`.
pub(crate) async fn check(p: &FtpProbe, addr: SocketAddr, deadline: Instant) -> Verdict {
    let tcp = match connect(addr).await {
        Ok(s) => s,
        Err(reason) => return down(reason),
    };
    let mut c = Lines::new(tcp);
    let verdict = dialogue(p, &mut c, addr).await;
    c.quit("QUIT", deadline).await;
    verdict
}

/// The final reply to a command: preliminary `1xx` replies are skipped
/// (a `120` "ready in n minutes" before the `220`), bounded by the reader's
/// byte limit.
async fn final_reply(c: &mut Lines<TcpStream>, what: &str) -> Result<Reply, String> {
    loop {
        let r = c.reply(what).await?;
        if !(100..200).contains(&r.code) {
            return Ok(r);
        }
    }
}

async fn command(c: &mut Lines<TcpStream>, line: &str, what: &str) -> Result<Reply, String> {
    c.send(line).await?;
    c.reply(what).await
}

async fn dialogue(p: &FtpProbe, c: &mut Lines<TcpStream>, addr: SocketAddr) -> Verdict {
    match login(p, c).await {
        Ok(()) => {}
        Err(reason) => return down(reason),
    }
    let Some(path) = &p.retrieve else {
        return up("FTP 230");
    };
    match retrieve(p, c, addr, path).await {
        Ok(v) => v,
        Err(reason) => down(reason),
    }
}

async fn login(p: &FtpProbe, c: &mut Lines<TcpStream>) -> Result<(), String> {
    let greeting = final_reply(c, "greeting").await?;
    if greeting.code != 220 {
        return Err(format!("unexpected greeting {}", greeting.quoted()));
    }
    let user = command(c, &format!("USER {}", p.user), "USER reply").await?;
    match user.code {
        230 => return Ok(()),
        331 => {}
        _ => return Err(format!("login refused: {}", user.quoted())),
    }
    let pass = command(c, &format!("PASS {}", p.password), "PASS reply").await?;
    match pass.code {
        230 | 202 => Ok(()),
        _ => Err(format!("login refused: {}", pass.quoted())),
    }
}

async fn retrieve(
    p: &FtpProbe,
    c: &mut Lines<TcpStream>,
    addr: SocketAddr,
    path: &str,
) -> Result<Verdict, String> {
    let r = command(c, "TYPE I", "TYPE reply").await?;
    if r.code != 200 {
        return Err(format!("TYPE I refused: {}", r.quoted()));
    }
    let data_addr = passive(c, addr).await?;
    let mut data = TcpStream::connect(data_addr).await.map_err(|e| {
        format!(
            "data connection to {data_addr}: {}",
            io_reason("connect failed", &e)
        )
    })?;
    let r = command(c, &format!("RETR {path}"), "RETR reply").await?;
    if r.code != 150 && r.code != 125 {
        return Err(format!("RETR {path}: {}", r.quoted()));
    }
    let (file, truncated) = read_file(&mut data)
        .await
        .map_err(|e| format!("RETR {path}: {}", io_reason("data read failed", &e)))?;
    drop(data);
    if !truncated {
        // The transfer's completion: a failed transfer (426, 451) is down
        // even when some bytes arrived.
        let done = c.reply("RETR completion").await?;
        if done.code != 226 && done.code != 250 {
            return Err(format!("RETR {path}: {}", done.quoted()));
        }
    }
    let Some(re) = &p.receive else {
        return Ok(up(format!("RETR {path}: {} bytes", file.len())));
    };
    Ok(if re.is_match(&file) {
        up(format!("RETR {path} matched {}", quote_regex(re)))
    } else if truncated {
        down(format!(
            "RETR {path} did not match {} in the first {MAX_READ} bytes",
            quote_regex(re)
        ))
    } else {
        down(format!("RETR {path} did not match {}", quote_regex(re)))
    })
}

/// The data address: `EPSV` (RFC 2428), else `PASV`; always the server's
/// own IP, with the port the server names.
async fn passive(c: &mut Lines<TcpStream>, addr: SocketAddr) -> Result<SocketAddr, String> {
    let r = command(c, "EPSV", "EPSV reply").await?;
    if r.code == 229 {
        return epsv_port(&r.first)
            .map(|port| SocketAddr::new(addr.ip(), port))
            .ok_or_else(|| format!("invalid EPSV reply {}", r.quoted()));
    }
    if addr.is_ipv6() {
        return Err(format!("EPSV refused: {}", r.quoted()));
    }
    let r = command(c, "PASV", "PASV reply").await?;
    if r.code != 227 {
        return Err(format!("passive mode refused: {}", r.quoted()));
    }
    pasv_port(&r.first)
        .map(|port| SocketAddr::new(addr.ip(), port))
        .ok_or_else(|| format!("invalid PASV reply {}", r.quoted()))
}

/// `229 Entering Extended Passive Mode (|||6446|)` -> 6446.
fn epsv_port(line: &str) -> Option<u16> {
    let inner = line.split_once('(')?.1.split_once(')')?.0;
    let d = inner.chars().next()?;
    let parts: Vec<&str> = inner.split(d).collect();
    // "", "", "", "6446", ""
    if parts.len() != 5 {
        return None;
    }
    parts[3].parse().ok().filter(|p| *p != 0)
}

/// `227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)` -> p1*256+p2. The
/// numbers may come without parentheses (RFC 1123 4.1.2.6).
fn pasv_port(line: &str) -> Option<u16> {
    let text = line.get(4..)?;
    let start = text.find(|c: char| c.is_ascii_digit())?;
    let nums: Vec<u16> = text[start..]
        .split(|c: char| !c.is_ascii_digit())
        .take(6)
        .map(|n| n.parse::<u16>().ok().filter(|v| *v <= 255))
        .collect::<Option<Vec<_>>>()?;
    if nums.len() != 6 {
        return None;
    }
    Some(nums[4] * 256 + nums[5]).filter(|p| *p != 0)
}

/// At most [`MAX_READ`] bytes of the file; true when there was more.
async fn read_file(data: &mut TcpStream) -> std::io::Result<(Vec<u8>, bool)> {
    let mut buf = vec![0u8; MAX_READ];
    let mut len = 0;
    while len < MAX_READ {
        match data.read(&mut buf[len..]).await? {
            0 => {
                buf.truncate(len);
                return Ok((buf, false));
            }
            n => len += n,
        }
    }
    let mut one = [0u8; 1];
    let more = data.read(&mut one).await? > 0;
    Ok((buf, more))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passive_replies() {
        assert_eq!(
            epsv_port("229 Entering Extended Passive Mode (|||6446|)"),
            Some(6446)
        );
        assert_eq!(epsv_port("229 ok (!!!21!)"), Some(21));
        assert_eq!(epsv_port("229 ok (|||0|)"), None);
        assert_eq!(epsv_port("229 ok (|||99999|)"), None);
        assert_eq!(epsv_port("229 ok"), None);
        assert_eq!(
            pasv_port("227 Entering Passive Mode (127,0,0,1,4,1)."),
            Some(1025)
        );
        assert_eq!(pasv_port("227 =10,1,2,3,200,7"), Some(200 * 256 + 7));
        assert_eq!(pasv_port("227 (127,0,0,1,4)"), None);
        assert_eq!(pasv_port("227 (127,0,0,1,4,256)"), None);
        assert_eq!(pasv_port("227"), None);
    }
}
