//! Email alerts end to end: a director on the memory table with a real
//! server on loopback, mailing through a small SMTP server run by the test
//! (`smtp=`), and the binary mailing through a fake `sendmail` on PATH.

// Test harness code: sets up child processes and ids with libc.
#![allow(unsafe_code)]

mod common;
use common::*;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// One message the test SMTP server accepted.
#[derive(Debug, Clone)]
struct Received {
    helo: String,
    from: String,
    rcpt: Vec<String>,
    data: String,
}

impl Received {
    fn subject(&self) -> &str {
        self.data
            .lines()
            .find_map(|l| l.strip_prefix("Subject: "))
            .unwrap_or("")
    }
    fn header(&self, name: &str) -> Option<&str> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or("");
        head.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
    }
}

/// A tiny SMTP server: records every message; refuses `RCPT TO` for
/// addresses starting with `refused`.
struct SmtpServer {
    addr: SocketAddr,
    mails: Arc<Mutex<Vec<Received>>>,
}

impl SmtpServer {
    async fn start(ip: &str) -> SmtpServer {
        let l = tokio::net::TcpListener::bind(format!("{ip}:0"))
            .await
            .unwrap();
        let addr = l.local_addr().unwrap();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let m = mails.clone();
        tokio::spawn(async move {
            while let Ok((s, _)) = l.accept().await {
                let m = m.clone();
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(Duration::from_secs(30), session(s, m)).await;
                });
            }
        });
        SmtpServer { addr, mails }
    }

    fn mails(&self) -> Vec<Received> {
        self.mails.lock().unwrap().clone()
    }

    /// Wait (bounded) for a mail whose subject contains `needle`.
    async fn wait(&self, needle: &str, d: &Running) -> Received {
        let deadline = tokio::time::Instant::now() + LONG;
        loop {
            if let Some(m) = self
                .mails()
                .into_iter()
                .find(|m| m.subject().contains(needle))
            {
                return m;
            }
            if tokio::time::Instant::now() >= deadline {
                let subjects: Vec<String> = self
                    .mails()
                    .iter()
                    .map(|m| m.subject().to_string())
                    .collect();
                panic!(
                    "no mail with subject {needle:?}; got {subjects:#?}\nlog:\n{}",
                    d.lines().join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

async fn session(s: tokio::net::TcpStream, mails: Arc<Mutex<Vec<Received>>>) {
    let (r, mut w) = s.into_split();
    let mut r = BufReader::new(r);
    let mut cur = Received {
        helo: String::new(),
        from: String::new(),
        rcpt: Vec::new(),
        data: String::new(),
    };
    if w.write_all(b"220 test.example ESMTP\r\n").await.is_err() {
        return;
    }
    let mut line = String::new();
    for _ in 0..1000 {
        line.clear();
        if r.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let cmd = line.trim_end().to_string();
        let reply: &[u8] = if let Some(h) = cmd.strip_prefix("EHLO ") {
            cur.helo = h.to_string();
            b"250-test.example\r\n250 8BITMIME\r\n"
        } else if let Some(f) = cmd.strip_prefix("MAIL FROM:") {
            cur.from = f.to_string();
            b"250 ok\r\n"
        } else if let Some(t) = cmd.strip_prefix("RCPT TO:") {
            if t.starts_with("<refused") {
                b"550 no such user\r\n"
            } else {
                cur.rcpt.push(t.to_string());
                b"250 ok\r\n"
            }
        } else if cmd == "DATA" {
            let _ = w.write_all(b"354 go ahead\r\n").await;
            let mut data = String::new();
            loop {
                let mut l = String::new();
                if r.read_line(&mut l).await.unwrap_or(0) == 0 {
                    return;
                }
                if l == ".\r\n" {
                    break;
                }
                data.push_str(&l);
            }
            cur.data = data;
            mails.lock().unwrap().push(cur.clone());
            b"250 queued\r\n"
        } else if cmd == "QUIT" {
            let _ = w.write_all(b"221 bye\r\n").await;
            return;
        } else {
            b"502 unknown\r\n"
        };
        if w.write_all(reply).await.is_err() {
            return;
        }
    }
}

fn cf(globals: &str, real: &TestServer, net: u8) -> String {
    format!(
        "checkinterval=1\nchecktimeout=1\nnegotiatetimeout=1\nresyncinterval=60\n{globals}\n\
         virtual=127.{net}.0.100:80\n\treal={} masq\n\tservice=http\n\treceive=\"^rs\"\n\tcomment=web farm\n",
        real.addr()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_alerts_for_down_reminder_up_and_stop() {
    let dir = tempfile::tempdir().unwrap();
    let smtp = SmtpServer::start("127.61.0.25").await;
    let rs = servers(61, 1).await;
    let globals = format!(
        "emailalert=\"ops@example.com, Team <team@example.com>\"\n\
         emailalertfrom=\"LD\" <ld@example.com>\nemailalertfreq=1\nsmtp={}",
        smtp.addr
    );
    let path = write(dir.path(), "l.cf", &cf(&globals, &rs[0], 61));
    let d = start(&path);
    let (a, v) = (rs[0].addr(), "127.61.0.100:80");

    // Coming up: ldirectord's "Added" mail.
    let added = format!("Added real server: {a} ({v}) (Weight set to 1)");
    smtp.wait(&added, &d).await;

    rs[0].set(Mode::Fail);
    let deleted = format!("Deleted real server: {a} ({v})");
    let m = smtp.wait(&deleted, &d).await;
    assert_eq!(m.subject(), deleted);
    assert_eq!(m.from, "<ld@example.com>");
    assert_eq!(m.rcpt, vec!["<ops@example.com>", "<team@example.com>"]);
    assert!(m.helo.starts_with("[127."), "EHLO {}", m.helo);
    assert_eq!(
        m.header("To"),
        Some("ops@example.com, Team <team@example.com>")
    );
    assert_eq!(m.header("From"), Some("\"LD\" <ld@example.com>"));
    assert!(m.header("Date").is_some());
    for want in [
        format!("Log-Message: {deleted}\r\n"),
        "Daemon-Status: running\r\n".to_string(),
        "Reason: HTTP 503\r\n".to_string(),
        "Comment: web farm\r\n".to_string(),
        "ldirectord host: ".to_string(),
    ] {
        assert!(m.data.contains(&want), "{want:?} not in:\n{}", m.data);
    }
    d.wait_log(&format!("emailalert: {deleted}"), LONG).await;

    // Still down: reminders every emailalertfreq (1s).
    smtp.wait(&format!("Inaccessible real server: {a} ({v})"), &d)
        .await;

    // Back up: the "Added" mail again, after the deletion.
    let n_added = smtp.mails().iter().filter(|m| m.subject() == added).count();
    rs[0].set(Mode::Ok);
    let deadline = tokio::time::Instant::now() + LONG;
    while smtp.mails().iter().filter(|m| m.subject() == added).count() == n_added {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no second Added mail; log:\n{}",
            d.lines().join("\n")
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }

    // Stop (cleanstop): the purge is mailed as "stopping" before the
    // director returns.
    let (_, _, lines) = d.stop().await;
    let purged = format!("Purged real server (stop): {a} ({v})");
    let m = smtp
        .mails()
        .into_iter()
        .find(|m| m.subject() == purged)
        .unwrap_or_else(|| panic!("no stop mail; log:\n{}", lines.join("\n")));
    assert!(m.data.contains("Daemon-Status: stopping\r\n"), "{}", m.data);
    assert!(
        !lines.iter().any(|l| l.contains("Error: cannot send email")),
        "{}",
        lines.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_failures_are_logged_and_refused_recipients_named() {
    let dir = tempfile::tempdir().unwrap();
    let smtp = SmtpServer::start("127.62.0.25").await;
    // A port with nothing listening.
    let dead = {
        let l = std::net::TcpListener::bind("127.62.0.26:0").unwrap();
        l.local_addr().unwrap()
    };
    let rs = servers(62, 1).await;
    let text = format!(
        "{}virtual=127.62.0.101:80\n\treal={} masq\n\tservice=http\n\temailalert=x@example.com\n\tsmtp={dead}\n\temailalertstatus=starting,running,reloading\n",
        cf(
            &format!(
                "emailalert=\"ok@example.com, refused@example.com\"\nsmtp={}",
                smtp.addr
            ),
            &rs[0],
            62
        ),
        rs[0].addr()
    );
    let path = write(dir.path(), "l.cf", &text);
    let d = start(&path);
    let a = rs[0].addr();
    let added = format!("Added real server: {a} (127.62.0.100:80) (Weight set to 1)");
    let m = smtp.wait(&added, &d).await;
    assert_eq!(m.rcpt, vec!["<ok@example.com>"]);
    d.wait_log(
        "Error: cannot send email alert to refused@example.com: RCPT TO refused: \"550 no such user\"",
        LONG,
    )
    .await;
    d.wait_log(
        &format!("Error: cannot send email alert to x@example.com: cannot connect to SMTP server {dead}: "),
        LONG,
    )
    .await;
    // The director kept working all along.
    d.wait("both virtuals served", LONG, |t| {
        t.len() == 2 && t.iter().all(|s| s.dests.len() == 1)
    })
    .await;
    let (_, _, lines) = d.stop().await;
    // Both virtuals are purged at stop; only the first (emailalertstatus
    // all by default) mails it, the second's status set has no "stopping".
    let purged = |v: &str| format!("Purged real server (stop): {a} ({v})");
    for v in ["127.62.0.100:80", "127.62.0.101:80"] {
        assert!(
            lines.iter().any(|l| l.ends_with(&purged(v))),
            "{}",
            lines.join("\n")
        );
    }
    let alerted = |v: &str| {
        lines
            .iter()
            .any(|l| l.ends_with(&format!("emailalert: {}", purged(v))))
    };
    assert!(alerted("127.62.0.100:80"), "{}", lines.join("\n"));
    assert!(!alerted("127.62.0.101:80"), "{}", lines.join("\n"));
    assert!(smtp
        .mails()
        .iter()
        .any(|m| m.subject() == purged("127.62.0.100:80")));
}

/// Mail files (`mail.*`) in `dir` containing `needle`.
fn mail_files(dir: &Path, needle: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with("mail."))
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .filter(|t| t.contains(needle))
                .collect()
        })
        .unwrap_or_default()
}

/// Wait (bounded) until at least `n` mail files contain `needle`; return
/// the first.
async fn wait_mail_files(dir: &Path, needle: &str, n: usize, log: &Path) -> String {
    let deadline = tokio::time::Instant::now() + LONG;
    loop {
        let found = mail_files(dir, needle);
        if found.len() >= n {
            return found[0].clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "fewer than {n} mails containing {needle:?}; log:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The binary under test; SIGTERM (by its pid) and a bounded wait when
/// dropped, so a failing test leaves nothing running.
struct Daemon(std::process::Child);

impl Daemon {
    fn stop(&mut self) -> bool {
        if self.0.try_wait().ok().flatten().is_some() {
            return true;
        }
        // SAFETY: signalling the child this test started, by its pid.
        unsafe {
            libc::kill(self.0.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = std::time::Instant::now() + LONG;
        while std::time::Instant::now() < deadline {
            if self.0.try_wait().ok().flatten().is_some() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
        false
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sendmail_on_path_gets_the_message() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    let spool = dir.path().join("spool");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(&spool).unwrap();
    // The fake sendmail: its arguments and stdin, each mail in its own file
    // (renamed into place once complete).
    let script = format!(
        "#!/bin/sh\nd={}\nprintf '%s\\n' \"$*\" > \"$d/.args.$$\"\ncat > \"$d/.mail.$$\"\n\
         mv \"$d/.args.$$\" \"$d/args.$$\"\nmv \"$d/.mail.$$\" \"$d/mail.$$\"\n",
        spool.display()
    );
    let fake = bin.join("sendmail");
    std::fs::write(&fake, script).unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();

    let rs = servers(63, 1).await;
    let log = dir.path().join("ld.log");
    let text = cf(
        &format!(
            "logfile=\"{}\"\nemailalert=root, ops@example.com\nemailalertstatus=running",
            log.display()
        ),
        &rs[0],
        63,
    );
    let cfg = write(dir.path(), "l.cf", &text);
    let path = std::env::join_paths(std::iter::once(bin.clone()).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .unwrap();
    let mut daemon = Daemon(
        std::process::Command::new(env!("CARGO_BIN_EXE_ldirectord-rs"))
            .args(["-f", cfg.to_str().unwrap(), "run", "--ipvs", "memory"])
            .env("PATH", &path)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let a = rs[0].addr();
    let v = "127.63.0.100:80";
    let added = format!("Subject: Added real server: {a} ({v}) (Weight set to 1)\n");
    wait_mail_files(&spool, &added, 1, &log).await;

    rs[0].set(Mode::Fail);
    let deleted = format!("Deleted real server: {a} ({v})");
    let m = wait_mail_files(&spool, &format!("Subject: {deleted}\n"), 1, &log).await;
    assert!(m.contains("To: root, ops@example.com\n"), "{m}");
    assert!(!m.contains("From: "), "sendmail sets From: {m}");
    assert!(m.contains(&format!("Log-Message: {deleted}\n")), "{m}");
    assert!(m.contains("Daemon-Status: running\n"), "{m}");
    assert!(m.contains("Reason: HTTP 503\n"), "{m}");
    // Called as sendmail -t -oi.
    let args: Vec<String> = std::fs::read_dir(&spool)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("args."))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect();
    assert!(
        !args.is_empty() && args.iter().all(|a| a == "-t -oi\n"),
        "{args:?}"
    );

    // Back up: a second Added mail.
    rs[0].set(Mode::Ok);
    wait_mail_files(&spool, &added, 2, &log).await;

    assert!(daemon.stop(), "ldirectord-rs did not stop on SIGTERM");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains(&format!("emailalert: {deleted}")), "{text}");
    // emailalertstatus=running: the stop's purge is logged, not mailed.
    assert!(
        text.contains(&format!("Purged real server (stop): {a} ({v})")),
        "{text}"
    );
    assert!(
        !text.contains("emailalert: Purged real server (stop)"),
        "{text}"
    );
    assert!(mail_files(&spool, "Purged").is_empty());
}

/// Under the systemd unit sendmail cannot work (NoNewPrivileges, a
/// read-only /var), so the unit sets LDIRECTORD_RS_SMTP: a config without
/// `smtp=` then mails through that SMTP server, and never runs sendmail; a
/// virtual's own `smtp=` still wins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_from_the_environment_when_the_config_has_none() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    // A sendmail that must not be called: it leaves a trace.
    let called = dir.path().join("sendmail-called");
    let fake = bin.join("sendmail");
    std::fs::write(&fake, format!("#!/bin/sh\ncat > {}\n", called.display())).unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();

    let env_smtp = SmtpServer::start("127.164.0.25").await;
    let own_smtp = SmtpServer::start("127.164.0.26").await;
    let rs = servers(164, 2).await;
    let log = dir.path().join("ld.log");
    let text = format!(
        "checkinterval=1\nchecktimeout=1\nnegotiatetimeout=1\nresyncinterval=60\n\
         logfile=\"{}\"\nemailalert=ops@example.com\n\
         virtual=127.164.0.100:80\n\treal={} masq\n\tservice=http\n\treceive=\"^rs\"\n\
         virtual=127.164.0.101:80\n\treal={} masq\n\tservice=http\n\treceive=\"^rs\"\n\tsmtp={}\n",
        log.display(),
        rs[0].addr(),
        rs[1].addr(),
        own_smtp.addr
    );
    let cfg = write(dir.path(), "l.cf", &text);
    let path = std::env::join_paths(std::iter::once(bin.clone()).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .unwrap();
    let mut daemon = Daemon(
        std::process::Command::new(env!("CARGO_BIN_EXE_ldirectord-rs"))
            .args(["-f", cfg.to_str().unwrap(), "run", "--ipvs", "memory"])
            .env("PATH", &path)
            .env("LDIRECTORD_RS_SMTP", env_smtp.addr.to_string())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let wait = |smtp: &SmtpServer, needle: String| {
        let mails = smtp.mails.clone();
        let log = log.clone();
        async move {
            let deadline = tokio::time::Instant::now() + LONG;
            loop {
                let found = mails
                    .lock()
                    .unwrap()
                    .iter()
                    .find(|m| m.subject() == needle)
                    .cloned();
                if let Some(m) = found {
                    return m;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "no mail {needle:?}; log:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        }
    };
    let first = format!(
        "Added real server: {} (127.164.0.100:80) (Weight set to 1)",
        rs[0].addr()
    );
    let second = format!(
        "Added real server: {} (127.164.0.101:80) (Weight set to 1)",
        rs[1].addr()
    );
    let m = wait(&env_smtp, first.clone()).await;
    assert_eq!(m.rcpt, vec!["<ops@example.com>".to_string()]);
    assert!(m.data.contains("To: ops@example.com\r\n"), "{}", m.data);
    wait(&own_smtp, second.clone()).await;
    assert!(daemon.stop(), "ldirectord-rs did not stop on SIGTERM");
    // Each virtual's mails went to one server only, sendmail never ran.
    assert!(!env_smtp.mails().iter().any(|m| m.subject() == second));
    assert!(!own_smtp.mails().iter().any(|m| m.subject() == first));
    assert!(!called.exists(), "sendmail was run");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("Error: cannot send"), "{text}");
}
