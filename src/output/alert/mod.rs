//! Email alerts, as ldirectord sends them: `emailalert`, `emailalertfreq`,
//! `emailalertstatus`, `emailalertfrom` and `smtp`.
//!
//! - [`Alerts`] ([`policy`]) is pure: who gets which message when. It is
//!   told each table event of a real or fallback server ([`Alerts::event`])
//!   and asked once a second for the re-sends that are due
//!   ([`Alerts::due`]), always with the time passed in, so tests drive it
//!   with a fake clock.
//! - [`Alerter`] ([`send`]) wraps it for the director: it sends each
//!   [`Mail`] in its own tokio task (never blocking the director), through
//!   the SMTP server of `smtp=` ([`smtp`]) or the local `sendmail -t -oi`
//!   ([`mod@sendmail`]), each within [`SEND_TIMEOUT`]; failures come back as
//!   event-log lines (`Error: cannot send email alert to X: ...`) at the
//!   next [`Alerter::tick`].
//! - This module: the [`Mail`] itself, its headers and body.
//!
//! ldirectord's semantics, kept:
//! - A mail for every added, restored, quiesced, deleted or purged real
//!   server and every added or deleted fallback server; the subject is the
//!   event's log phrase (`Deleted real server: R (V)`), and ldirectord's
//!   `emailalert: <subject>` line is logged for each.
//! - A real deleted or quiesced while `emailalertfreq` is not 0 is reminded
//!   of every `emailalertfreq` seconds with `Inaccessible real server: R (V)`
//!   until its next event (added, restored, purged).
//! - `emailalertstatus` filters by the daemon's state at the time of the
//!   event (starting, running, stopping, reloading); the re-send clock runs
//!   even while the state filters the mail out.
//! - The body: `ldirectord host:`, `Log-Message:`, `Daemon-Status:` lines,
//!   then the virtual's comment.
//!
//! Differences, on purpose: one `RCPT TO` per recipient (ldirectord handed
//! the whole comma-separated list to one `RCPT TO`); the envelope sender is
//! the address of `emailalertfrom` when it has one (else `user@host`, as
//! ldirectord); a `Date:` header; a `Reason:` line (why the check failed) in
//! the body of deleted/quiesced alerts; the subject carries no
//! `[servicename]` prefix and the body's `Comment:` line holds
//! `servicename`/`comment` together (the config model merges them).

pub mod policy;
pub mod send;
pub mod sendmail;
pub mod smtp;

pub use policy::{kind, Alerts, DaemonStatus};
pub use send::{default_smtp, Alerter, MAX_QUEUED, MAX_SENDING, SEND_TIMEOUT, SMTP_ENV};
pub use sendmail::{find_sendmail, sendmail};
pub use smtp::{smtp_data, smtp_send, SmtpError};

use crate::config::Mailbox;
use std::net::SocketAddr;

/// One alert to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// Recipients (`emailalert=`; their text is the `To:` header).
    pub to: Vec<Mailbox>,
    /// `emailalertfrom=`.
    pub from: Option<Mailbox>,
    /// `smtp=`; none: sendmail.
    pub smtp: Option<SocketAddr>,
    pub subject: String,
    pub status: DaemonStatus,
    /// Why the check failed (deleted / quiesced alerts).
    pub reason: Option<String>,
    /// The virtual's `servicename`/`comment`.
    pub comment: Option<String>,
}

impl Mail {
    /// Envelope recipients: the address part of each.
    pub fn recipients(&self) -> Vec<String> {
        self.to
            .iter()
            .map(|m| m.addr().unwrap_or(m.text()).to_string())
            .collect()
    }

    /// `To:`, for messages: the recipients joined by `, `.
    pub fn to_text(&self) -> String {
        let texts: Vec<&str> = self.to.iter().map(Mailbox::text).collect();
        texts.join(", ")
    }

    /// The envelope sender: the address of `emailalertfrom`, else
    /// `default` (`user@host`).
    pub fn sender(&self, default: &str) -> String {
        self.from
            .as_ref()
            .and_then(Mailbox::addr)
            .unwrap_or(default)
            .to_string()
    }

    /// ldirectord's body (LF line ends).
    pub fn body(&self, hostname: &str) -> String {
        let mut b = format!(
            "ldirectord host: {hostname}\nLog-Message: {}\nDaemon-Status: {}\n",
            self.subject,
            self.status.name()
        );
        if let Some(r) = &self.reason {
            b.push_str(&format!("Reason: {r}\n"));
        }
        if let Some(c) = &self.comment {
            b.push_str(&format!("\nComment: {c}\n\n"));
        }
        b
    }

    /// The whole message, headers and body (LF line ends). `from` is the
    /// `From:` header to use when `emailalertfrom` is not set (`None`: no
    /// header; sendmail adds one).
    pub fn message(&self, hostname: &str, from: Option<&str>, date: &str) -> String {
        let mut m = String::new();
        if let Some(f) = self.from.as_ref().map(Mailbox::text).or(from) {
            m.push_str(&format!("From: {f}\n"));
        }
        m.push_str(&format!(
            "To: {}\nSubject: {}\nDate: {date}\n\n",
            self.to_text(),
            self.subject
        ));
        m.push_str(&self.body(hostname));
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mb(text: &str) -> Mailbox {
        Mailbox::parse(text).unwrap()
    }

    #[test]
    fn message_format() {
        let m = Mail {
            to: vec![mb("a@b"), mb("Ops <ops@c>")],
            from: Some(mb("\"LD\" <ld@c>")),
            smtp: None,
            subject: "Deleted real server: 10.0.0.2:80 (10.0.0.100:80)".into(),
            status: DaemonStatus::Running,
            reason: Some("HTTP 503".into()),
            comment: Some("web".into()),
        };
        assert_eq!(m.recipients(), vec!["a@b", "ops@c"]);
        assert_eq!(m.sender("root@h"), "ld@c");
        let text = m.message("h1", Some("root@h1"), "Sun, 22 Nov 2026 02:10:00 +0000");
        assert_eq!(
            text,
            "From: \"LD\" <ld@c>\nTo: a@b, Ops <ops@c>\n\
             Subject: Deleted real server: 10.0.0.2:80 (10.0.0.100:80)\n\
             Date: Sun, 22 Nov 2026 02:10:00 +0000\n\n\
             ldirectord host: h1\n\
             Log-Message: Deleted real server: 10.0.0.2:80 (10.0.0.100:80)\n\
             Daemon-Status: running\nReason: HTTP 503\n\nComment: web\n\n"
        );
        let plain = Mail {
            from: None,
            comment: None,
            reason: None,
            ..m
        };
        assert_eq!(plain.sender("root@h1"), "root@h1");
        assert!(plain.message("h1", None, "d").starts_with("To: "));
        assert!(plain
            .message("h1", Some("root@h1"), "d")
            .starts_with("From: root@h1\nTo: "));
    }
}
