//! The SMTP client of `smtp=`: one mail per connection, one `RCPT TO` per
//! recipient, refused recipients named.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// How an SMTP send failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmtpError {
    /// Nothing was delivered.
    All(String),
    /// Delivered, except to these (recipient, reason).
    Some(Vec<(String, String)>),
}

/// Send `message` (LF line ends) through the SMTP server at `server`:
/// greeting, `EHLO` (`HELO` when refused as unknown), `MAIL FROM`, one
/// `RCPT TO` each, `DATA`, `QUIT`. The caller bounds the time.
pub async fn smtp_send(
    server: SocketAddr,
    sender: &str,
    recipients: &[String],
    message: &str,
) -> Result<(), SmtpError> {
    let all = SmtpError::All;
    let tcp = tokio::net::TcpStream::connect(server)
        .await
        .map_err(|e| all(format!("cannot connect to SMTP server {server}: {e}")))?;
    let me = match tcp.local_addr().map(|a| a.ip()) {
        Ok(IpAddr::V4(a)) => format!("[{a}]"),
        Ok(IpAddr::V6(a)) => format!("[IPv6:{a}]"),
        Err(_) => "localhost".to_string(),
    };
    let mut c = ldirectord_checks::Lines::new(tcp);
    let r = c
        .reply("SMTP greeting")
        .await
        .map_err(|e| all(format!("SMTP server {server}: {e}")))?;
    if r.code != 220 {
        return Err(all(format!(
            "SMTP server {server}: unexpected greeting {}",
            r.quoted()
        )));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    let result = smtp_dialogue(&mut c, &me, sender, recipients, message).await;
    c.quit("QUIT", deadline).await;
    result.map_err(|e| match e {
        SmtpError::All(why) => SmtpError::All(format!("SMTP server {server}: {why}")),
        other @ SmtpError::Some(_) => other,
    })
}

async fn smtp_dialogue<S>(
    c: &mut ldirectord_checks::Lines<S>,
    me: &str,
    sender: &str,
    recipients: &[String],
    message: &str,
) -> Result<(), SmtpError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let all = SmtpError::All;
    async fn command<S>(
        c: &mut ldirectord_checks::Lines<S>,
        line: &str,
        what: &str,
    ) -> Result<ldirectord_checks::Reply, String>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        c.send(line).await?;
        c.reply(what).await
    }
    let mut greeted = false;
    for hello in ["EHLO", "HELO"] {
        let r = command(c, &format!("{hello} {me}"), &format!("{hello} reply"))
            .await
            .map_err(all)?;
        match r.code {
            250 => {
                greeted = true;
                break;
            }
            500 | 502 if hello == "EHLO" => continue,
            _ => return Err(all(format!("{hello} refused: {}", r.quoted()))),
        }
    }
    if !greeted {
        return Err(all("HELO not answered".into()));
    }
    let r = command(c, &format!("MAIL FROM:<{sender}>"), "MAIL FROM reply")
        .await
        .map_err(all)?;
    if r.code != 250 {
        return Err(all(format!("MAIL FROM refused: {}", r.quoted())));
    }
    let mut refused = Vec::new();
    for rcpt in recipients {
        let r = command(c, &format!("RCPT TO:<{rcpt}>"), "RCPT TO reply")
            .await
            .map_err(all)?;
        if !matches!(r.code, 250 | 251) {
            refused.push((rcpt.clone(), format!("RCPT TO refused: {}", r.quoted())));
        }
    }
    if refused.len() == recipients.len() {
        let why = refused
            .first()
            .map_or("no recipients".to_string(), |(_, w)| w.clone());
        return Err(all(why));
    }
    let r = command(c, "DATA", "DATA reply").await.map_err(all)?;
    if r.code != 354 {
        return Err(all(format!("DATA refused: {}", r.quoted())));
    }
    c.write_raw(smtp_data(message).as_bytes())
        .await
        .map_err(all)?;
    let r = c.reply("reply to the message").await.map_err(all)?;
    if r.code != 250 {
        return Err(all(format!("message refused: {}", r.quoted())));
    }
    if refused.is_empty() {
        Ok(())
    } else {
        Err(SmtpError::Some(refused))
    }
}

/// A message for SMTP `DATA`: CR LF line ends, lines starting with `.`
/// doubled, and the final `.` line.
pub fn smtp_data(message: &str) -> String {
    let mut out = String::with_capacity(message.len() + 16);
    for line in message.lines() {
        if line.starts_with('.') {
            out.push('.');
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str(".\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_dot_stuffed_with_crlf() {
        assert_eq!(smtp_data("a\n.b\n..\nc"), "a\r\n..b\r\n...\r\nc\r\n.\r\n");
    }
}
