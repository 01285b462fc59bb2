//! Real servers from Debian's packages for the probe tests (mariadb,
//! postgresql, slapd, freeradius, squid): a process started on a free
//! loopback port with its data in a temporary directory, stopped by its pid
//! at the end (SIGTERM, then SIGKILL when it lingers; SIGKILL when dropped
//! by a failing test).
#![allow(dead_code)]

pub mod dovecot;
pub mod freeradius;
pub mod postgres;
pub mod slapd;

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// True when `path` exists; else prints why the test is skipped.
pub fn have(path: &str, package: &str) -> bool {
    if Path::new(path).exists() {
        return true;
    }
    println!("SKIPPED: {path} not found (apt-get install {package})");
    false
}

/// A TCP port on 127.0.0.1 where nothing listens now.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A UDP port on 127.0.0.1 where nothing listens now.
pub fn free_udp_port() -> u16 {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.local_addr().unwrap().port()
}

pub fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// The uid and gid of a system user (`postgres`, `openldap`...).
pub fn user_ids(name: &str) -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    for line in passwd.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() > 3 && f[0] == name {
            return (f[2].parse().unwrap(), f[3].parse().unwrap());
        }
    }
    panic!("no user {name} in /etc/passwd");
}

/// Run a setup command to its end; panics with its output when it fails.
pub fn run_ok(cmd: &mut Command) {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A server process, killed when dropped.
pub struct Proc {
    child: Option<Child>,
    what: String,
    /// Where its output goes, shown when it fails to start.
    log: std::path::PathBuf,
    /// Started as the leader of its own process group: signals go to the
    /// whole group (the server and the processes it forked).
    group: bool,
}

impl Proc {
    /// Start `cmd` with stdout and stderr to `log`.
    pub fn start(what: &str, cmd: &mut Command, log: &Path) -> Proc {
        let out = std::fs::File::create(log).unwrap();
        let err = out.try_clone().unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("start {what}: {e}"));
        Proc {
            child: Some(child),
            what: what.to_string(),
            log: log.to_path_buf(),
            group: false,
        }
    }

    /// [`Proc::start`] as the leader of a new process group: stopping,
    /// dropping and [`Proc::signal_group`] then reach every process the
    /// server forked (Dovecot's, PostgreSQL's), and none of the caller's.
    pub fn start_group(what: &str, cmd: &mut Command, log: &Path) -> Proc {
        use std::os::unix::process::CommandExt;
        let mut p = Proc::start(what, cmd.process_group(0), log);
        p.group = true;
        p
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Wait (at most `limit`) until `ready` says so; panics with the log
    /// when the process exits or the time is up.
    pub fn wait_ready(&mut self, limit: Duration, mut ready: impl FnMut() -> bool) {
        let start = Instant::now();
        loop {
            if ready() {
                return;
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None; // reaped
                panic!(
                    "{} exited ({status}) before it was ready:\n{}",
                    self.what,
                    self.log_text()
                );
            }
            assert!(
                start.elapsed() < limit,
                "{} not ready within {limit:?}:\n{}",
                self.what,
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Send `signal` (`STOP`, `CONT`, `KILL`...) to the server: to its
    /// whole process group when started by [`Proc::start_group`]. Only
    /// while it has not been reaped, so the pid is still its own.
    pub fn signal_group(&self, signal: &str) {
        let Some(child) = &self.child else {
            return;
        };
        let target = if self.group {
            format!("-{}", child.id())
        } else {
            child.id().to_string()
        };
        let _ = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg("--")
            .arg(&target)
            .stderr(Stdio::null())
            .status();
    }

    /// True while the process has not exited (once it has, it is reaped
    /// and never signalled again).
    pub fn running(&mut self) -> bool {
        let alive = self
            .child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)));
        if !alive {
            self.child = None;
        }
        alive
    }

    /// SIGTERM by pid, wait up to 10s for the exit, then SIGKILL (for a
    /// group: SIGCONT first, in case it was stopped, and the SIGKILL to
    /// the whole group).
    pub fn stop(mut self) {
        if self.group {
            self.signal_group("CONT");
        }
        let Some(child) = self.child.as_mut() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = child.try_wait() {
                // Reaped: its pid is no longer its own to signal (a
                // group's other members exit with their leader).
                self.child = None;
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill();
    }

    /// SIGKILL (to the group when it has one), then reap.
    fn kill(&mut self) {
        if self.group {
            // Before reaping the leader: its pid is still the group's.
            self.signal_group("KILL");
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// True once something accepts TCP connections on `port`.
pub fn listening(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(&local(port), Duration::from_millis(200)).is_ok()
}

/// The test binary's own certificate authority (made once), which signs
/// every certificate [`write_cert`] writes: a client that verifies (as
/// Debian's ldirectord does, through IO::Socket::SSL's defaults) trusts it
/// when told to (`SSL_CERT_FILE`, `PERL_LWP_SSL_CA_FILE`); the probes,
/// which do not verify, see no difference.
fn test_ca() -> &'static (rcgen::Issuer<'static, rcgen::KeyPair>, String) {
    static CA: std::sync::OnceLock<(rcgen::Issuer<'static, rcgen::KeyPair>, String)> =
        std::sync::OnceLock::new();
    CA.get_or_init(|| {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "ldirectord-rs test CA");
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        let pem = params.self_signed(&key).unwrap().pem();
        (rcgen::Issuer::new(params, key), pem)
    })
}

/// The test CA's certificate, PEM.
pub fn test_ca_pem() -> &'static str {
    &test_ca().1
}

/// A certificate for 127.0.0.1 / localhost signed by the test CA, written
/// as PEM files `cert.pem` and `key.pem` in `dir` (readable by `owner`
/// when set).
pub fn write_cert(
    dir: &Path,
    owner: Option<(u32, u32)>,
) -> (std::path::PathBuf, std::path::PathBuf) {
    write_cert_for(dir, owner, &[])
}

/// [`write_cert`] for `more` names (addresses) besides localhost and
/// 127.0.0.1.
pub fn write_cert_for(
    dir: &Path,
    owner: Option<(u32, u32)>,
    more: &[String],
) -> (std::path::PathBuf, std::path::PathBuf) {
    let key_pair = rcgen::KeyPair::generate().unwrap();
    let mut names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    names.extend(more.iter().cloned());
    let mut params = rcgen::CertificateParams::new(names).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    let leaf = params.signed_by(&key_pair, &test_ca().0).unwrap();
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, leaf.pem()).unwrap();
    std::fs::write(&key, key_pair.serialize_pem()).unwrap();
    if let Some((uid, gid)) = owner {
        for f in [&cert, &key] {
            std::os::unix::fs::chown(f, Some(uid), Some(gid)).unwrap();
        }
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    (cert, key)
}

/// A scripted server for the bounds tests: on each connection (at most 8)
/// it writes `bytes` at once, then reads until the client goes away.
pub async fn says(bytes: &'static [u8]) -> SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        for _ in 0..8 {
            let Ok((mut s, _)) = listener.accept().await else {
                break;
            };
            tokio::spawn(async move {
                let _ = s.write_all(bytes).await;
                let mut sink = [0u8; 1024];
                while let Ok(n) = s.read(&mut sink).await {
                    if n == 0 {
                        break;
                    }
                }
            });
        }
    });
    addr
}
