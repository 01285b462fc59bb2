//! `service=ldap` and `service=ldaps`: LDAPv3, hand-written BER for the
//! three operations the check needs (ldap3 brings some sixty crates, URL
//! and IDNA handling among them, for a bind and one search).
//!
//! As ldirectord's check (Net::LDAP): for ldaps, TLS from the first byte,
//! the certificate not verified; a simple bind as `login` with `passwd`
//! when both are set, else an anonymous bind; a search of the base object
//! named by `request` (without its leading `/`; the default `/` is the
//! root DSE), scope base, filter `(objectClass=*)`, aliases dereferenced
//! when finding the base (Net::LDAP's default); up when exactly one entry
//! comes back and, when `receive` is set, its DN matches it. Then an
//! Unbind. No attributes are asked for (`1.1`): the verdict needs only
//! the DN, and a base entry with a large photo would not fit the read
//! bound.
//!
//! Bounds: every BER element within the crate's [`crate::MAX_READ`]
//! budget, lengths checked before reading; at most [`MAX_MESSAGES`]
//! messages in answer to the search.

use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

use crate::wire::Wire;
use crate::{connect, down, quote_regex, quote_text, up, Pattern, Verdict};

/// Most messages (entries, references) read in answer to the search.
const MAX_MESSAGES: usize = 64;

const BIND_ID: u8 = 1;
const SEARCH_ID: u8 = 2;
const UNBIND_ID: u8 = 3;

/// `service=ldap` / `service=ldaps`.
#[derive(Debug, Clone)]
pub struct LdapProbe {
    /// ldaps: TLS from the first byte (certificate not verified, as
    /// Net::LDAP's default).
    pub tls: bool,
    /// Bind DN and password; `None` for an anonymous bind.
    pub bind: Option<(String, String)>,
    /// The DN searched with scope base (`""`: the root DSE).
    pub base: String,
    /// Regex the entry's DN must match; `None`: the entry found is enough.
    pub receive: Option<Pattern>,
}

impl LdapProbe {
    /// The probe from ldirectord's settings as written: `login`, `passwd`
    /// (a bind with them only when both are set and not `0`, Perl's
    /// truth, else anonymous), `request` (one leading `/` removed: the
    /// base DN), `receive` (`None` when empty); `tls` for ldaps.
    pub fn from_ldirectord(
        tls: bool,
        login: &str,
        passwd: &str,
        request: &str,
        receive: Option<Pattern>,
    ) -> Self {
        let perl_true = |s: &str| !s.is_empty() && s != "0";
        LdapProbe {
            tls,
            bind: (perl_true(login) && perl_true(passwd))
                .then(|| (login.to_string(), passwd.to_string())),
            base: request.strip_prefix('/').unwrap_or(request).to_string(),
            receive,
        }
    }
}

/// One LDAP check. The caller bounds the time by `deadline`.
pub(crate) async fn check(p: &LdapProbe, addr: SocketAddr, deadline: Instant) -> Verdict {
    let tcp = match connect(addr).await {
        Ok(s) => s,
        Err(reason) => return down(reason),
    };
    if !p.tls {
        return session(p, Wire::new(tcp), deadline).await;
    }
    match crate::tls::handshake(tcp, None, addr, false).await {
        Ok(tls) => session(p, Wire::new(tls), deadline).await,
        Err(reason) => down(reason),
    }
}

async fn session<S>(p: &LdapProbe, mut w: Wire<S>, deadline: Instant) -> Verdict
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let verdict = match exchange(p, &mut w).await {
        Ok(v) => v,
        Err(reason) => down(reason),
    };
    w.goodbye(&message(UNBIND_ID, &tlv(0x42, &[])), deadline)
        .await;
    verdict
}

async fn exchange<S>(p: &LdapProbe, w: &mut Wire<S>) -> Result<Verdict, String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (dn, password) = match &p.bind {
        Some((dn, pw)) => (dn.as_str(), pw.as_str()),
        None => ("", ""),
    };
    let mut bind = tlv(0x02, &[3]);
    bind.extend(tlv(0x04, dn.as_bytes()));
    bind.extend(tlv(0x80, password.as_bytes()));
    w.send(&message(BIND_ID, &tlv(0x60, &bind))).await?;
    let (tag, op) = read_response(w, BIND_ID, "bind response").await?;
    if tag != 0x61 {
        return Err(format!("unexpected response {tag:#04x} to the bind"));
    }
    let (code, diag) = ldap_result(&op)?;
    if code != 0 {
        return Err(format!("bind refused: {}", result_text(code, &diag)));
    }

    let mut search = tlv(0x04, p.base.as_bytes());
    search.extend(tlv(0x0a, &[0])); // scope: baseObject
    search.extend(tlv(0x0a, &[2])); // derefAliases: derefFindingBaseObj
    search.extend(tlv(0x02, &[0])); // sizeLimit
    search.extend(tlv(0x02, &[0])); // timeLimit
    search.extend(tlv(0x01, &[0])); // typesOnly: false
    search.extend(tlv(0x87, b"objectClass")); // (objectClass=*)
    search.extend(tlv(0x30, &tlv(0x04, b"1.1"))); // no attributes
    w.send(&message(SEARCH_ID, &tlv(0x63, &search))).await?;

    let mut dns = Vec::new();
    for _ in 0..MAX_MESSAGES {
        let (tag, op) = read_response(w, SEARCH_ID, "search result").await?;
        match tag {
            // SearchResultEntry: objectName first.
            0x64 => {
                let mut r = Ber(&op);
                let name = r.expect(0x04).ok_or("invalid search result entry")?;
                dns.push(String::from_utf8_lossy(name).into_owned());
            }
            0x73 => {} // SearchResultReference
            0x65 => {
                let (code, diag) = ldap_result(&op)?;
                if code != 0 {
                    return Err(format!("search failed: {}", result_text(code, &diag)));
                }
                return Ok(judge(p, &dns));
            }
            other => return Err(format!("unexpected response {other:#04x} to the search")),
        }
    }
    Err(format!(
        "more than {MAX_MESSAGES} messages in answer to the search"
    ))
}

fn judge(p: &LdapProbe, dns: &[String]) -> Verdict {
    if dns.len() != 1 {
        return down(format!("search found {} entries", dns.len()));
    }
    let dn = &dns[0];
    match &p.receive {
        None => up(format!("found {}", quote_text(dn))),
        Some(re) if re.is_match(dn.as_bytes()) => up(format!("DN matched {}", quote_regex(re))),
        Some(re) => down(format!(
            "DN {} did not match {}",
            quote_text(dn),
            quote_regex(re)
        )),
    }
}

/// An LDAPMessage: `SEQUENCE { messageID, protocolOp }`.
fn message(id: u8, op: &[u8]) -> Vec<u8> {
    let mut body = tlv(0x02, &[id]);
    body.extend_from_slice(op);
    tlv(0x30, &body)
}

/// One BER element with a definite length.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes = (n as u32).to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (4 - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// The next response to message `id`: its protocolOp tag and contents.
/// A Notice of Disconnection (unsolicited, message ID 0) is a reason.
async fn read_response<S>(w: &mut Wire<S>, id: u8, what: &str) -> Result<(u8, Vec<u8>), String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (tag, body) = read_element(w, what).await?;
    if tag != 0x30 {
        return Err(format!("invalid {what} (tag {tag:#04x})"));
    }
    let mut r = Ber(&body);
    let msg_id = r.expect(0x02).ok_or_else(|| format!("invalid {what}"))?;
    let (op_tag, op) = r.next().ok_or_else(|| format!("invalid {what}"))?;
    if msg_id == [0] && op_tag == 0x78 {
        let (code, diag) = ldap_result(op)?;
        return Err(format!("server disconnected: {}", result_text(code, &diag)));
    }
    if msg_id != [id] {
        return Err(format!("{what} for another message"));
    }
    Ok((op_tag, op.to_vec()))
}

/// One BER element from the stream: its tag and contents.
async fn read_element<S>(w: &mut Wire<S>, what: &str) -> Result<(u8, Vec<u8>), String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let h = w.take(2, what).await?;
    let (tag, first) = (h[0], h[1]);
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return Err(format!("invalid {what} (length form {first:#04x})"));
        }
        w.take(n, what)
            .await?
            .iter()
            .fold(0usize, |acc, &b| acc << 8 | usize::from(b))
    };
    Ok((tag, w.take(len, what).await?))
}

/// An LDAPResult's code and diagnostic message.
fn ldap_result(op: &[u8]) -> Result<(u32, String), String> {
    let invalid = || "invalid LDAP result".to_string();
    let mut r = Ber(op);
    let code = r.expect(0x0a).ok_or_else(invalid)?;
    if code.is_empty() || code.len() > 4 {
        return Err(invalid());
    }
    let code = code.iter().fold(0u32, |acc, &b| acc << 8 | u32::from(b));
    r.expect(0x04).ok_or_else(invalid)?; // matchedDN
    let diag = r.expect(0x04).ok_or_else(invalid)?;
    Ok((code, String::from_utf8_lossy(diag).into_owned()))
}

/// `49 invalidCredentials`, with the server's message when it gave one.
fn result_text(code: u32, diag: &str) -> String {
    let name = match code {
        0 => "success",
        1 => "operationsError",
        2 => "protocolError",
        3 => "timeLimitExceeded",
        4 => "sizeLimitExceeded",
        7 => "authMethodNotSupported",
        8 => "strongerAuthRequired",
        10 => "referral",
        11 => "adminLimitExceeded",
        13 => "confidentialityRequired",
        32 => "noSuchObject",
        34 => "invalidDNSyntax",
        48 => "inappropriateAuthentication",
        49 => "invalidCredentials",
        50 => "insufficientAccessRights",
        51 => "busy",
        52 => "unavailable",
        53 => "unwillingToPerform",
        80 => "other",
        _ => "",
    };
    let mut text = format!("{code} {name}").trim_end().to_string();
    if !diag.is_empty() {
        text.push_str(&format!(" ({})", quote_text(diag)));
    }
    text
}

/// A cursor over BER contents (definite lengths, one-byte tags).
struct Ber<'a>(&'a [u8]);

impl<'a> Ber<'a> {
    fn next(&mut self) -> Option<(u8, &'a [u8])> {
        let (tag, content, rest) = crate::der::read(self.0)?;
        self.0 = rest;
        Some((tag, content))
    }

    fn expect(&mut self, tag: u8) -> Option<&'a [u8]> {
        match self.next()? {
            (t, c) if t == tag => Some(c),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldirectord_settings() {
        let p = LdapProbe::from_ldirectord(false, "cn=a", "pw", "/dc=x", None);
        assert_eq!(p.bind, Some(("cn=a".into(), "pw".into())));
        assert_eq!(p.base, "dc=x");
        // A login without a password binds anonymously, as ldirectord.
        let p = LdapProbe::from_ldirectord(false, "cn=a", "", "/", None);
        assert_eq!((p.bind, p.base.as_str()), (None, ""));
        let p = LdapProbe::from_ldirectord(false, "cn=a", "0", "dc=x", None);
        assert_eq!((p.bind, p.base.as_str()), (None, "dc=x"));
    }

    #[test]
    fn ber_lengths() {
        assert_eq!(tlv(0x04, b"ab"), [0x04, 2, b'a', b'b']);
        let long = tlv(0x04, &[7u8; 300]);
        assert_eq!(&long[..4], &[0x04, 0x82, 0x01, 0x2c]);
        let mut r = Ber(&long);
        assert_eq!(r.next().unwrap().1.len(), 300);
        assert!(r.next().is_none());
        assert!(Ber(&[0x04, 0x85, 1, 1, 1, 1, 1]).next().is_none());
        assert!(Ber(&[0x04, 5, 1]).next().is_none());
    }

    #[test]
    fn results() {
        let mut op = tlv(0x0a, &[49]);
        op.extend(tlv(0x04, b""));
        op.extend(tlv(0x04, b"bad password"));
        let (code, diag) = ldap_result(&op).unwrap();
        assert_eq!(
            result_text(code, &diag),
            r#"49 invalidCredentials ("bad password")"#
        );
        assert_eq!(result_text(32, ""), "32 noSuchObject");
        assert_eq!(result_text(99, ""), "99");
        assert!(ldap_result(&op[..3]).is_err());
    }
}
