//! Email alerts, as ldirectord sends them: `emailalert`, `emailalertfreq`,
//! `emailalertstatus`, `emailalertfrom` and `smtp`.
//!
//! - [`Alerts`] is pure: who gets which message when. It is told each table
//!   event of a real or fallback server ([`Alerts::event`]) and asked once a
//!   second for the re-sends that are due ([`Alerts::due`]), always with the
//!   time passed in, so tests drive it with a fake clock.
//! - [`Alerter`] wraps it for the director: it sends each [`Mail`] in its own
//!   tokio task (never blocking the director), through the SMTP server of
//!   `smtp=` (else of [`SMTP_ENV`]) or the local `sendmail -t -oi`, each
//!   within [`SEND_TIMEOUT`];
//!   failures come back as event-log lines (`Error: cannot send email alert
//!   to X: ...`) at the next [`Alerter::tick`].
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

use crate::config::{AlertStatus, Config, EmailAlert};
use crate::eventlog::fmt_virtual;
use crate::ipvs::ServiceKey;
use crate::table::Event;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
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
    crate::config::cf::parse_smtp(&text)
        .map(Some)
        .map_err(|e| format!("{SMTP_ENV}=\"{text}\": {e}"))
}

/// The daemon's state (ldirectord's `$DAEMON_STATUS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DaemonStatus {
    Starting,
    Running,
    Stopping,
    Reloading,
}

impl DaemonStatus {
    /// Its bit in an `emailalertstatus` set.
    pub fn bit(self) -> AlertStatus {
        match self {
            DaemonStatus::Starting => AlertStatus::STARTING,
            DaemonStatus::Running => AlertStatus::RUNNING,
            DaemonStatus::Stopping => AlertStatus::STOPPING,
            DaemonStatus::Reloading => AlertStatus::RELOADING,
        }
    }

    /// As in the body's `Daemon-Status:` line.
    pub fn name(self) -> &'static str {
        match self {
            DaemonStatus::Starting => "starting",
            DaemonStatus::Running => "running",
            DaemonStatus::Stopping => "stopping",
            DaemonStatus::Reloading => "reloading",
        }
    }
}

/// Whether a table event sends an alert: `Some(true)` when it is a real
/// going out of service (deleted, quiesced: re-sends start), `Some(false)`
/// for the others ldirectord mails about (re-sends stop), `None` for events
/// without a mail (virtual servers, edits).
pub fn kind(event: &Event) -> Option<bool> {
    match event {
        Event::DeletedReal | Event::QuiescedReal => Some(true),
        Event::AddedReal { .. }
        | Event::RestoredReal { .. }
        | Event::PurgedReal
        | Event::AddedFallback
        | Event::DeletedFallback => Some(false),
        Event::AddedVirtual
        | Event::EditedVirtual
        | Event::DeletedVirtual
        | Event::EditedReal { .. } => None,
    }
}

/// One alert to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// Recipients as written in `emailalert=` (the `To:` header).
    pub to: Vec<String>,
    /// `emailalertfrom=`.
    pub from: Option<String>,
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
            .map(|t| crate::config::cf::parse_mailbox(t).unwrap_or(t).to_string())
            .collect()
    }

    /// `To:`, for messages: the recipients joined by `, `.
    pub fn to_text(&self) -> String {
        self.to.join(", ")
    }

    /// The envelope sender: the address of `emailalertfrom`, else
    /// `default` (`user@host`).
    pub fn sender(&self, default: &str) -> String {
        self.from
            .as_deref()
            .and_then(|f| crate::config::cf::parse_mailbox(f).ok())
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
        if let Some(f) = self.from.as_deref().or(from) {
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

/// What one virtual needs for alerts.
#[derive(Debug, Clone)]
struct VirtualAlerts {
    email: EmailAlert,
    comment: Option<String>,
    /// Its reals and fallback: the servers re-sends may be kept for.
    servers: HashSet<SocketAddr>,
}

/// Who gets which alert when (pure: the time is passed in).
#[derive(Debug)]
pub struct Alerts {
    virtuals: HashMap<ServiceKey, VirtualAlerts>,
    /// Servers out of service with re-sends running: when the last alert
    /// for each was due (ldirectord's `%EMAILSTATUS`).
    down: BTreeMap<(ServiceKey, SocketAddr), Instant>,
    status: DaemonStatus,
}

impl Alerts {
    /// For `config`, in state [`DaemonStatus::Starting`].
    pub fn new(config: &Config) -> Alerts {
        let mut a = Alerts {
            virtuals: HashMap::new(),
            down: BTreeMap::new(),
            status: DaemonStatus::Starting,
        };
        a.configure(config);
        a
    }

    /// Take a new config (reload). Re-sends are kept for servers still
    /// configured under a virtual whose `emailalertfreq` is not 0.
    pub fn configure(&mut self, config: &Config) {
        self.virtuals = config
            .virtuals
            .iter()
            .map(|v| {
                let mut servers: HashSet<SocketAddr> = v.reals.iter().map(|r| r.addr).collect();
                servers.extend(v.fallback.map(|f| f.addr));
                (
                    v.key,
                    VirtualAlerts {
                        email: v.email.clone(),
                        comment: v.comment.clone(),
                        servers,
                    },
                )
            })
            .collect();
        let virtuals = &self.virtuals;
        self.down.retain(|(key, addr), _| {
            virtuals
                .get(key)
                .is_some_and(|v| !v.email.emailalertfreq.is_zero() && v.servers.contains(addr))
        });
    }

    pub fn set_status(&mut self, status: DaemonStatus) {
        self.status = status;
    }

    pub fn status(&self) -> DaemonStatus {
        self.status
    }

    /// Whether any virtual has recipients.
    pub fn any_recipients(&self) -> bool {
        self.virtuals
            .values()
            .any(|v| !v.email.emailalert.is_empty())
    }

    /// Servers with re-sends running.
    pub fn reminding(&self) -> Vec<(ServiceKey, SocketAddr)> {
        self.down.keys().copied().collect()
    }

    /// A table event of server `addr` under virtual `key` at `now`, its log
    /// phrase `subject`; `down`: it went out of service (see [`kind`]). The
    /// mail to send, if any (ldirectord's `ld_emailalert_send`).
    pub fn event(
        &mut self,
        key: &ServiceKey,
        addr: SocketAddr,
        subject: &str,
        down: bool,
        reason: Option<&str>,
        now: Instant,
    ) -> Option<Mail> {
        let v = self.virtuals.get(key)?;
        if down && !v.email.emailalertfreq.is_zero() {
            self.down.insert((*key, addr), now);
        } else {
            self.down.remove(&(*key, addr));
        }
        self.mail(key, subject, reason)
    }

    /// The re-sends due at `now` (ldirectord's `ld_emailalert_resend`):
    /// `Inaccessible real server: R (V)` for each server out of service for
    /// `emailalertfreq` since its last alert.
    pub fn due(&mut self, now: Instant) -> Vec<Mail> {
        let mut due = Vec::new();
        for ((key, addr), last) in self.down.iter_mut() {
            let Some(v) = self.virtuals.get(key) else {
                continue;
            };
            if now.saturating_duration_since(*last) < v.email.emailalertfreq {
                continue;
            }
            *last = now;
            due.push((*key, *addr));
        }
        due.into_iter()
            .filter_map(|(key, addr)| {
                let subject = format!("Inaccessible real server: {addr} ({})", fmt_virtual(&key));
                self.mail(&key, &subject, None)
            })
            .collect()
    }

    /// The mail for `subject` under virtual `key`, unless the state filter
    /// or an empty recipient list says none.
    fn mail(&self, key: &ServiceKey, subject: &str, reason: Option<&str>) -> Option<Mail> {
        let v = self.virtuals.get(key)?;
        let e = &v.email;
        if !e.emailalertstatus.contains(self.status.bit()) || e.emailalert.is_empty() {
            return None;
        }
        Some(Mail {
            to: e.emailalert.clone(),
            from: e.emailalertfrom.clone(),
            smtp: e.smtp,
            subject: subject.to_string(),
            status: self.status,
            reason: reason.map(str::to_string),
            comment: v.comment.clone(),
        })
    }
}

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
        other => other,
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

/// The sendmail to pipe mails to: the first `sendmail` on `path` (a
/// `PATH`-style list), else `/usr/sbin/sendmail`, else `/usr/lib/sendmail`.
pub fn find_sendmail(path: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    let on_path = path
        .map(|p| std::env::split_paths(p).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path
        .into_iter()
        .map(|d| d.join("sendmail"))
        .chain(["/usr/sbin/sendmail", "/usr/lib/sendmail"].map(PathBuf::from))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Pipe `message` to `sendmail -t -oi` (recipients from the headers, a lone
/// `.` line is not the end). The caller bounds the time; the process is
/// killed when the future is dropped.
pub async fn sendmail(message: &str) -> Result<(), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let path = std::env::var_os("PATH");
    let Some(bin) = find_sendmail(path.as_deref()) else {
        return Err(
            "no sendmail found (on PATH, /usr/sbin, /usr/lib); install an MTA or set smtp=".into(),
        );
    };
    let mut child = tokio::process::Command::new(&bin)
        .args(["-t", "-oi"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    let mut stdin = child.stdin.take();
    let mut stderr = child.stderr.take();
    let write = async {
        if let Some(mut s) = stdin.take() {
            s.write_all(message.as_bytes()).await?;
            s.shutdown().await?;
        }
        Ok::<(), std::io::Error>(())
    };
    let read = async {
        let mut buf = Vec::new();
        if let Some(e) = stderr.as_mut() {
            let _ = e.take(4096).read_to_end(&mut buf).await;
        }
        buf
    };
    let (written, err) = tokio::join!(write, read);
    let status = child
        .wait()
        .await
        .map_err(|e| format!("{}: {e}", bin.display()))?;
    let first = String::from_utf8_lossy(&err)
        .lines()
        .find(|l| !l.trim().is_empty())
        .map(|l| format!(": {}", l.trim()))
        .unwrap_or_default();
    if !status.success() {
        return Err(format!("{} -t -oi: {status}{first}", bin.display()));
    }
    written.map_err(|e| format!("{}: cannot write the message: {e}", bin.display()))
}

/// Now, as in a `Date:` header (UTC).
fn rfc2822_now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc2822)
        .unwrap_or_default()
}

/// This host's name (`gethostname`), `localhost` when unknown.
fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates
    // unless truncated, and the last byte stays 0.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len() - 1) } == 0;
    let end = buf.iter().position(|&b| b == 0).unwrap_or(0);
    match std::str::from_utf8(&buf[..end]) {
        Ok(s) if ok && !s.is_empty() => s.to_string(),
        _ => "localhost".to_string(),
    }
}

/// The name of the real user (as Perl's `getpwuid($<)`), else its uid.
fn username() -> String {
    // SAFETY: getpwuid_r with a valid passwd struct and buffer of the given
    // length; the returned name points into `buf`, read before it goes.
    unsafe {
        let uid = libc::getuid();
        let mut pw: libc::passwd = std::mem::zeroed();
        let mut buf = vec![0 as libc::c_char; 4096];
        let mut out: *mut libc::passwd = std::ptr::null_mut();
        if libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr(), buf.len(), &mut out) == 0
            && !out.is_null()
            && !pw.pw_name.is_null()
        {
            if let Ok(s) = std::ffi::CStr::from_ptr(pw.pw_name).to_str() {
                if !s.is_empty() {
                    return s.to_string();
                }
            }
        }
        uid.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn config(text: &str) -> Config {
        crate::config::cf::parse(Path::new("t.cf"), text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn key(c: &Config, i: usize) -> ServiceKey {
        c.virtuals[i].key
    }

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    const TWO: &str = "emailalert=\"ops@example.com, root\"\nemailalertfreq=60\n\
        virtual=127.0.0.1:80\n\treal=127.0.0.2:80 gate\n\treal=127.0.0.3:80 gate\n\tcomment=web\n\
        virtual=127.0.0.1:81\n\treal=127.0.0.2:81 gate\n\temailalert=web@example.com\n\temailalertfreq=0\n";

    #[test]
    fn down_event_mails_and_repeats_every_freq_until_up() {
        let c = config(TWO);
        let mut a = Alerts::new(&c);
        a.set_status(DaemonStatus::Running);
        let (k, r) = (key(&c, 0), sa("127.0.0.2:80"));
        let t0 = Instant::now();
        let subject = "Deleted real server: 127.0.0.2:80 (127.0.0.1:80)";
        let m = a
            .event(&k, r, subject, true, Some("HTTP 503"), t0)
            .expect("a mail");
        assert_eq!(m.to, vec!["ops@example.com", "root"]);
        assert_eq!(m.recipients(), vec!["ops@example.com", "root"]);
        assert_eq!(m.subject, subject);
        assert_eq!(m.reason.as_deref(), Some("HTTP 503"));
        assert_eq!(m.comment.as_deref(), Some("web"));
        // Not yet due.
        assert!(a.due(t0 + Duration::from_secs(59)).is_empty());
        let d = a.due(t0 + Duration::from_secs(60));
        assert_eq!(d.len(), 1);
        assert_eq!(
            d[0].subject,
            "Inaccessible real server: 127.0.0.2:80 (127.0.0.1:80)"
        );
        assert_eq!(d[0].reason, None);
        // The clock restarts from the re-send.
        assert!(a.due(t0 + Duration::from_secs(100)).is_empty());
        assert_eq!(a.due(t0 + Duration::from_secs(121)).len(), 1);
        // Back up: one mail, and no more re-sends.
        let up = a
            .event(
                &k,
                r,
                "Added real server: 127.0.0.2:80 (127.0.0.1:80) (Weight set to 1)",
                false,
                None,
                t0 + Duration::from_secs(130),
            )
            .expect("up mail");
        assert!(up.subject.starts_with("Added real server"));
        assert!(a.due(t0 + Duration::from_secs(10_000)).is_empty());
        assert!(a.reminding().is_empty());
    }

    #[test]
    fn freq_zero_never_repeats_and_virtual_recipients_override() {
        let c = config(TWO);
        let mut a = Alerts::new(&c);
        a.set_status(DaemonStatus::Running);
        let k = key(&c, 1);
        let t0 = Instant::now();
        let m = a
            .event(
                &k,
                sa("127.0.0.2:81"),
                "Deleted real server: x",
                true,
                None,
                t0,
            )
            .unwrap();
        assert_eq!(m.to, vec!["web@example.com"]);
        assert_eq!(m.comment, None);
        assert!(a.reminding().is_empty());
        assert!(a.due(t0 + Duration::from_secs(1_000_000)).is_empty());
    }

    #[test]
    fn status_filter_blocks_mails_but_not_the_resend_clock() {
        let c = config(
            "emailalert=a@b\nemailalertfreq=10\nemailalertstatus=running, stopping\n\
             virtual=127.0.0.1:80\n\treal=127.0.0.2:80 gate\n",
        );
        let mut a = Alerts::new(&c);
        let (k, r) = (key(&c, 0), sa("127.0.0.2:80"));
        let t0 = Instant::now();
        // Starting: filtered out, yet the re-send clock starts.
        assert_eq!(a.status(), DaemonStatus::Starting);
        assert!(a.event(&k, r, "Deleted", true, None, t0).is_none());
        assert_eq!(a.reminding(), vec![(k, r)]);
        a.set_status(DaemonStatus::Reloading);
        assert!(a.due(t0 + Duration::from_secs(10)).is_empty());
        a.set_status(DaemonStatus::Running);
        assert!(
            a.due(t0 + Duration::from_secs(15)).is_empty(),
            "clock restarted at 10s"
        );
        let d = a.due(t0 + Duration::from_secs(20));
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].status, DaemonStatus::Running);
        a.set_status(DaemonStatus::Stopping);
        let m = a.event(
            &k,
            r,
            "Purged real server (stop): x",
            false,
            None,
            t0 + Duration::from_secs(21),
        );
        assert_eq!(m.map(|m| m.status), Some(DaemonStatus::Stopping));
    }

    #[test]
    fn none_and_no_recipients_send_nothing() {
        let c = config(
            "emailalertstatus=none\nemailalert=a@b\nvirtual=127.0.0.1:80\n\treal=127.0.0.2:80 gate\n\
             virtual=127.0.0.1:81\n\treal=127.0.0.2:81 gate\n\temailalertstatus=all\n\
             virtual=127.0.0.1:82\n\treal=127.0.0.2:82 gate\n",
        );
        let mut a = Alerts::new(&c);
        a.set_status(DaemonStatus::Running);
        let t0 = Instant::now();
        assert!(a
            .event(&key(&c, 0), sa("127.0.0.2:80"), "x", true, None, t0)
            .is_none());
        assert!(a
            .event(&key(&c, 1), sa("127.0.0.2:81"), "x", true, None, t0)
            .is_some());
        let c2 = config("virtual=127.0.0.1:80\n\treal=127.0.0.2:80 gate\n");
        let mut b = Alerts::new(&c2);
        b.set_status(DaemonStatus::Running);
        assert!(!b.any_recipients());
        assert!(b
            .event(&key(&c2, 0), sa("127.0.0.2:80"), "x", true, None, t0)
            .is_none());
        // Unknown virtual: nothing.
        assert!(b
            .event(&key(&c, 2), sa("127.0.0.2:82"), "x", true, None, t0)
            .is_none());
    }

    #[test]
    fn reload_keeps_reminders_only_for_configured_servers() {
        let c = config(TWO);
        let mut a = Alerts::new(&c);
        let t0 = Instant::now();
        let k = key(&c, 0);
        a.event(&k, sa("127.0.0.2:80"), "d", true, None, t0);
        a.event(&k, sa("127.0.0.3:80"), "d", true, None, t0);
        assert_eq!(a.reminding().len(), 2);
        let c2 = config(&TWO.replace("\treal=127.0.0.3:80 gate\n", ""));
        a.configure(&c2);
        assert_eq!(a.reminding(), vec![(k, sa("127.0.0.2:80"))]);
        let c3 = config(&TWO.replace("emailalertfreq=60", "emailalertfreq=0"));
        a.configure(&c3);
        assert!(a.reminding().is_empty());
    }

    #[test]
    fn events_that_mail() {
        assert_eq!(kind(&Event::DeletedReal), Some(true));
        assert_eq!(kind(&Event::QuiescedReal), Some(true));
        assert_eq!(kind(&Event::AddedReal { weight: 1 }), Some(false));
        assert_eq!(kind(&Event::RestoredReal { weight: 1 }), Some(false));
        assert_eq!(kind(&Event::PurgedReal), Some(false));
        assert_eq!(kind(&Event::AddedFallback), Some(false));
        assert_eq!(kind(&Event::DeletedFallback), Some(false));
        assert_eq!(kind(&Event::AddedVirtual), None);
        assert_eq!(kind(&Event::EditedReal { weight: 2 }), None);
    }

    #[test]
    fn message_format() {
        let m = Mail {
            to: vec!["a@b".into(), "Ops <ops@c>".into()],
            from: Some("\"LD\" <ld@c>".into()),
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

    #[test]
    fn default_smtp_from_the_environment() {
        use std::ffi::OsStr;
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

    #[test]
    fn data_is_dot_stuffed_with_crlf() {
        assert_eq!(smtp_data("a\n.b\n..\nc"), "a\r\n..b\r\n...\r\nc\r\n.\r\n");
    }

    #[test]
    fn sendmail_is_found_on_path_first() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("sendmail");
        std::fs::write(&fake, "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = std::env::join_paths([Path::new("/nonexistent"), dir.path()]).unwrap();
        assert_eq!(find_sendmail(Some(&path)), Some(fake.clone()));
        // Not executable: skipped.
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_ne!(find_sendmail(Some(&path)), Some(fake));
    }

    #[test]
    fn host_and_user_are_known() {
        assert!(!hostname().is_empty());
        assert!(!username().is_empty());
        assert!(rfc2822_now().ends_with("+0000"));
    }
}
