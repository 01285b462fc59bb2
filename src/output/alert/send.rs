//! The sending of alerts: [`Alerter`] wraps [`Alerts`] for the director and
//! sends each [`Mail`] in its own tokio task, through SMTP or sendmail,
//! never blocking the director; failures come back as event-log lines.

use super::policy::{kind, Alerts, DaemonStatus};
use super::sendmail::sendmail;
use super::smtp::{smtp_send, SmtpError};
use super::Mail;
use crate::config::Config;
use crate::core::events::Event;
use crate::ipvs::ServiceKey;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Semaphore};
use tokio_util::task::TaskTracker;

/// Longest time one mail may take to send (connect, dialogue, or the
/// sendmail process), queueing for a sending slot not included.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// Mails sent at once.
pub const MAX_SENDING: usize = 4;

/// Mails queued or being sent at most; beyond, new ones are dropped (and
/// that is logged).
pub const MAX_QUEUED: usize = 256;

/// The director's alerter: [`Alerts`] plus the sending.
pub struct Alerter {
    alerts: Alerts,
    host: Arc<Host>,
    errors_tx: mpsc::Sender<String>,
    errors_rx: mpsc::Receiver<String>,
    tracker: TaskTracker,
    queued: Arc<AtomicUsize>,
    sending: Arc<Semaphore>,
}

/// Who sends: for the body, the `From:` default and the envelope.
#[derive(Debug)]
struct Host {
    hostname: String,
    user: String,
    /// [`SMTP_ENV`], read once at start.
    smtp: Result<Option<SocketAddr>, String>,
}

/// The environment variable giving the SMTP server (`ip[:port]`, as
/// `smtp=`) for alerts of virtuals without `smtp=`; unset or empty:
/// sendmail. The systemd unit sets it to `127.0.0.1:25`, because sendmail
/// cannot queue a mail from inside the unit's sandbox.
pub const SMTP_ENV: &str = "LDIRECTORD_RS_SMTP";

/// The SMTP server for mails without `smtp=`, from `value` (of
/// [`SMTP_ENV`]); the error names the variable.
pub fn default_smtp(value: Option<&std::ffi::OsStr>) -> Result<Option<SocketAddr>, String> {
    let Some(v) = value.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let text = v.to_string_lossy();
    match crate::config::parse_smtp(&text) {
        Ok((crate::config::Host::Ip(ip), port)) => Ok(Some(SocketAddr::new(ip, port))),
        Ok((crate::config::Host::Name(_), _)) => Err(format!(
            "{SMTP_ENV}=\"{text}\": an IP address is needed here, not a name"
        )),
        Err(e) => Err(format!("{SMTP_ENV}=\"{text}\": {e}")),
    }
}

impl Alerter {
    pub fn new(config: &Config) -> Alerter {
        let (errors_tx, errors_rx) = mpsc::channel(MAX_QUEUED * 4);
        Alerter {
            alerts: Alerts::new(config),
            host: Arc::new(Host {
                hostname: hostname(),
                user: username(),
                smtp: default_smtp(std::env::var_os(SMTP_ENV).as_deref()),
            }),
            errors_tx,
            errors_rx,
            tracker: TaskTracker::new(),
            queued: Arc::new(AtomicUsize::new(0)),
            sending: Arc::new(Semaphore::new(MAX_SENDING)),
        }
    }

    /// See [`Alerts::configure`].
    pub fn configure(&mut self, config: &Config) {
        self.alerts.configure(config);
    }

    pub fn set_status(&mut self, status: DaemonStatus) {
        self.alerts.set_status(status);
    }

    /// A table event (see [`kind`]): queue its mail. Returns the lines to
    /// log (`emailalert: <subject>`, or why it was dropped).
    pub fn event(
        &mut self,
        event: &Event,
        key: &ServiceKey,
        addr: SocketAddr,
        subject: &str,
        reason: Option<&str>,
    ) -> Vec<String> {
        let Some(down) = kind(event) else {
            return Vec::new();
        };
        let reason = if down { reason } else { None };
        match self
            .alerts
            .event(key, addr, subject, down, reason, Instant::now())
        {
            Some(m) => self.send(m),
            None => Vec::new(),
        }
    }

    /// Once a second: queue the re-sends due; return the lines to log
    /// (including failures of earlier sends).
    pub fn tick(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        for m in self.alerts.due(Instant::now()) {
            lines.extend(self.send(m));
        }
        while let Ok(e) = self.errors_rx.try_recv() {
            lines.push(e);
        }
        lines
    }

    /// Wait (at most `limit`) for the mails in flight; return the lines to
    /// log. For the end of a run.
    pub async fn flush(&mut self, limit: Duration) -> Vec<String> {
        self.tracker.close();
        if tokio::time::timeout(limit, self.tracker.wait())
            .await
            .is_err()
        {
            let n = self.queued.load(Ordering::Relaxed);
            let _ = self.errors_tx.try_send(format!(
                "Error: {n} email alert(s) not sent after waiting {}s at exit",
                limit.as_secs()
            ));
        }
        self.tracker.reopen();
        let mut lines = Vec::new();
        while let Ok(e) = self.errors_rx.try_recv() {
            lines.push(e);
        }
        lines
    }

    /// Queue one mail in its own task.
    fn send(&mut self, mail: Mail) -> Vec<String> {
        let mut lines = vec![format!("emailalert: {}", mail.subject)];
        if self.queued.load(Ordering::Relaxed) >= MAX_QUEUED {
            lines.push(format!(
                "Error: cannot send email alert to {}: {MAX_QUEUED} alerts already waiting; dropped",
                mail.to_text()
            ));
            return lines;
        }
        self.queued.fetch_add(1, Ordering::Relaxed);
        let (host, errors, queued, sending) = (
            self.host.clone(),
            self.errors_tx.clone(),
            self.queued.clone(),
            self.sending.clone(),
        );
        self.tracker.spawn(async move {
            let result = match sending.acquire().await {
                Ok(_permit) => {
                    match tokio::time::timeout(SEND_TIMEOUT, deliver(&mail, &host)).await {
                        Ok(r) => r,
                        Err(_) => Err(vec![(
                            mail.to_text(),
                            format!("timed out after {}s", SEND_TIMEOUT.as_secs()),
                        )]),
                    }
                }
                Err(_) => Ok(()),
            };
            if let Err(failures) = result {
                for (to, why) in failures {
                    let _ =
                        errors.try_send(format!("Error: cannot send email alert to {to}: {why}"));
                }
            }
            queued.fetch_sub(1, Ordering::Relaxed);
        });
        lines
    }
}

/// Send one mail; on failure, (recipients, reason) pairs.
async fn deliver(mail: &Mail, host: &Host) -> Result<(), Vec<(String, String)>> {
    let date = rfc2822_now();
    let default_from = format!("{}@{}", host.user, host.hostname);
    let server = match (mail.smtp, &host.smtp) {
        (Some(s), _) => Some(s),
        (None, Ok(s)) => *s,
        (None, Err(e)) => return Err(vec![(mail.to_text(), e.clone())]),
    };
    match server {
        Some(server) => {
            let message = mail.message(&host.hostname, Some(&default_from), &date);
            smtp_send(
                server,
                &mail.sender(&default_from),
                &mail.recipients(),
                &message,
            )
            .await
            .map_err(|e| match e {
                SmtpError::All(why) => vec![(mail.to_text(), why)],
                SmtpError::Some(refused) => refused,
            })
        }
        None => {
            let message = mail.message(&host.hostname, None, &date);
            sendmail(&message)
                .await
                .map_err(|why| vec![(mail.to_text(), why)])
        }
    }
}

/// Now, as in a `Date:` header (UTC).
fn rfc2822_now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc2822)
        .unwrap_or_default()
}

/// This host's name (`gethostname`), `localhost` when unknown.
fn hostname() -> String {
    crate::sys::hostname().unwrap_or_else(|| "localhost".to_string())
}

/// The name of the real user (as Perl's `getpwuid($<)`), else its uid.
fn username() -> String {
    let uid = crate::sys::real_uid();
    crate::sys::user_name(uid).unwrap_or_else(|| uid.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_user_are_known() {
        assert!(!hostname().is_empty());
        assert!(!username().is_empty());
        assert!(rfc2822_now().ends_with("+0000"));
    }

    #[test]
    fn default_smtp_from_the_environment() {
        use std::ffi::OsStr;
        let sa = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert_eq!(default_smtp(None), Ok(None));
        assert_eq!(default_smtp(Some(OsStr::new(""))), Ok(None));
        assert_eq!(
            default_smtp(Some(OsStr::new("127.0.0.1"))),
            Ok(Some(sa("127.0.0.1:25")))
        );
        assert_eq!(
            default_smtp(Some(OsStr::new("[::1]:587"))),
            Ok(Some(sa("[::1]:587")))
        );
        let e = default_smtp(Some(OsStr::new("mail.example.com"))).unwrap_err();
        assert!(
            e.starts_with("LDIRECTORD_RS_SMTP=\"mail.example.com\": "),
            "{e}"
        );
    }
}
