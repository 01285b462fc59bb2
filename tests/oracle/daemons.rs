//! The real servers of the differential test that need no database: nginx
//! (http, https, connect, simpletcp, external, and the origin behind the
//! proxy), dnsmasq (dns), pyftpdlib (ftp), Python's smtpd (smtp), Dovecot
//! (pop, pops, imap, imaps) and Squid (http_proxy). Each starts on free
//! loopback ports with its files in a directory of its own, as the leader
//! of its own process group (so that "hung" can stop every process of it).
//!
//! What each can be made to do wrong, for phase 1: a file's content
//! changes (`alive` becomes `dead`), a DNS name's address changes, a
//! user's password changes.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::servers::dovecot::Dovecot;
use super::servers::{free_port, free_udp_port, listening, write_cert, Proc};

pub const ALIVE: &str = "alive";

/// Serve `up.html` and `res.html` (both `alive` at first), over HTTP and
/// HTTPS, never cached by a proxy.
pub struct Nginx {
    pub proc: Proc,
    pub http: u16,
    pub https: u16,
    www: PathBuf,
}

impl Nginx {
    pub const BINARY: &'static str = "/usr/sbin/nginx";

    pub fn start(dir: &Path) -> Nginx {
        let www = dir.join("www");
        std::fs::create_dir_all(&www).unwrap();
        std::fs::create_dir_all(dir.join("tmp")).unwrap();
        for f in ["up.html", "res.html"] {
            std::fs::write(www.join(f), format!("{ALIVE}\n")).unwrap();
        }
        let (cert, key) = write_cert(dir, None);
        let (http, https) = (free_port(), free_port());
        let t = dir.join("tmp").display().to_string();
        let conf = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {pid};\nerror_log {err};\n\
             events {{ worker_connections 256; }}\n\
             http {{\n access_log off;\n client_body_temp_path {t}/b;\n proxy_temp_path {t}/p;\n \
             fastcgi_temp_path {t}/f;\n uwsgi_temp_path {t}/u;\n scgi_temp_path {t}/s;\n \
             server {{\n  listen 127.0.0.1:{http};\n  listen 127.0.0.1:{https} ssl;\n  \
             ssl_certificate {cert};\n  ssl_certificate_key {key};\n  root {root};\n  \
             add_header Cache-Control no-store;\n }}\n}}\n",
            pid = dir.join("nginx.pid").display(),
            err = dir.join("error.log").display(),
            cert = cert.display(),
            key = key.display(),
            root = www.display(),
        );
        std::fs::write(dir.join("nginx.conf"), conf).unwrap();
        let mut proc = Proc::start_group(
            "nginx",
            Command::new(Self::BINARY)
                .arg("-p")
                .arg(dir)
                .arg("-e")
                .arg(dir.join("error.log"))
                .arg("-c")
                .arg(dir.join("nginx.conf")),
            &dir.join("nginx.out"),
        );
        proc.wait_ready(Duration::from_secs(20), || {
            listening(http) && listening(https)
        });
        Nginx {
            proc,
            http,
            https,
            www,
        }
    }

    /// Phase 1: `res.html` no longer says `alive`.
    pub fn spoil(&self) {
        std::fs::write(self.www.join("res.html"), "dead\n").unwrap();
    }
}

/// Serve `up.test` (127.0.0.9) and `res.test` (127.0.0.10) from a hosts
/// file, over UDP and TCP.
pub struct Dnsmasq {
    pub proc: Proc,
    pub port: u16,
    hosts: PathBuf,
}

impl Dnsmasq {
    pub const BINARY: &'static str = "/usr/sbin/dnsmasq";

    pub fn start(dir: &Path) -> Dnsmasq {
        let hosts = dir.join("hosts");
        std::fs::write(&hosts, "127.0.0.9 up.test\n127.0.0.10 res.test\n").unwrap();
        // A port free for both UDP and TCP.
        let port = loop {
            let p = free_udp_port();
            if std::net::TcpListener::bind(("127.0.0.1", p)).is_ok() {
                break p;
            }
        };
        let mut proc = Proc::start_group(
            "dnsmasq",
            Command::new(Self::BINARY)
                .args(["--keep-in-foreground", "--no-daemon"])
                .arg(format!("--port={port}"))
                .args(["--listen-address=127.0.0.1", "--bind-interfaces"])
                .args(["--no-resolv", "--no-hosts", "--conf-file=/dev/null"])
                // Stay root: the hosts file is read again on SIGHUP.
                .arg("--user=root")
                .arg(format!("--addn-hosts={}", hosts.display()))
                .arg(format!("--pid-file={}", dir.join("dnsmasq.pid").display()))
                .arg("--log-facility=-"),
            &dir.join("dnsmasq.out"),
        );
        proc.wait_ready(Duration::from_secs(20), || listening(port));
        Dnsmasq { proc, port, hosts }
    }

    /// Phase 1: `res.test` moves to 127.0.0.11.
    pub fn spoil(&self) {
        std::fs::write(&self.hosts, "127.0.0.9 up.test\n127.0.0.11 res.test\n").unwrap();
        self.proc.signal_group("HUP");
    }
}

/// pyftpdlib with the users of a password file (`user:password` lines),
/// read again at every login; `up.txt` and `res.txt` say `alive`.
pub struct Ftpd {
    pub proc: Proc,
    pub port: u16,
    root: PathBuf,
    users: PathBuf,
}

/// The server: pyftpdlib's own FTPServer and FTPHandler, with an
/// authorizer that checks passwords against the file at each login (so a
/// password can change while it runs), a failed login answered after 1s.
const FTPD: &str = r#"
import sys
from pyftpdlib.authorizers import DummyAuthorizer, AuthenticationFailed
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer
port, root, users = int(sys.argv[1]), sys.argv[2], sys.argv[3]
def read():
    return dict(l.split(":", 1) for l in open(users).read().splitlines() if ":" in l)
class FileAuthorizer(DummyAuthorizer):
    def validate_authentication(self, username, password, handler):
        if read().get(username) != password:
            raise AuthenticationFailed("Authentication failed.")
a = FileAuthorizer()
for name in read():
    a.add_user(name, "", root, perm="elr")
FTPHandler.authorizer = a
FTPHandler.auth_failed_timeout = 1
FTPServer(("127.0.0.1", port), FTPHandler).serve_forever()
"#;

impl Ftpd {
    pub fn available() -> bool {
        Command::new("/usr/bin/python3")
            .args(["-c", "import pyftpdlib"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    pub fn start(dir: &Path, users: &[(&str, &str)]) -> Ftpd {
        let root = dir.join("root");
        std::fs::create_dir_all(&root).unwrap();
        for f in ["up.txt", "res.txt"] {
            std::fs::write(root.join(f), format!("{ALIVE}\n")).unwrap();
        }
        let file = dir.join("users");
        let text: String = users.iter().map(|(u, p)| format!("{u}:{p}\n")).collect();
        std::fs::write(&file, text).unwrap();
        let port = free_port();
        let mut proc = Proc::start_group(
            "pyftpdlib",
            Command::new("/usr/bin/python3")
                .args(["-c", FTPD])
                .arg(port.to_string())
                .arg(&root)
                .arg(&file),
            &dir.join("ftpd.out"),
        );
        proc.wait_ready(Duration::from_secs(20), || listening(port));
        Ftpd {
            proc,
            port,
            root,
            users: file,
        }
    }

    /// Phase 1: `user`'s password changes, `res.txt` says `dead`.
    pub fn spoil(&self, user: &str, password: &str) {
        let text = std::fs::read_to_string(&self.users).unwrap();
        let new: String = text
            .lines()
            .map(|l| match l.split_once(':') {
                Some((u, _)) if u == user => format!("{u}:{password}\n"),
                _ => format!("{l}\n"),
            })
            .collect();
        std::fs::write(&self.users, new).unwrap();
        std::fs::write(self.root.join("res.txt"), "dead\n").unwrap();
    }
}

/// Python's standard `smtpd` (DebuggingServer: accepts and prints mail).
pub struct Smtpd {
    pub proc: Proc,
    pub port: u16,
}

impl Smtpd {
    pub fn available() -> bool {
        Command::new("/usr/bin/python3")
            .args(["-W", "ignore", "-c", "import smtpd"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    pub fn start(dir: &Path) -> Smtpd {
        let port = free_port();
        let mut proc = Proc::start_group(
            "smtpd",
            Command::new("/usr/bin/python3")
                .args(["-W", "ignore", "-m", "smtpd", "-n", "-c", "DebuggingServer"])
                .arg(format!("127.0.0.1:{port}")),
            &dir.join("smtpd.out"),
        );
        proc.wait_ready(Duration::from_secs(20), || listening(port));
        Smtpd { proc, port }
    }
}

/// Dovecot (pop3, pop3s, imap, imaps) with these users, on the standard
/// ports (110, 995, 143, 993) of an address of its own in 127.0.143.0/24:
/// ldirectord's imap check connects to the standard port whatever the
/// real's port (see the imap cases).
pub fn dovecot(dir: &Path, users: &[(&str, &str)]) -> Dovecot {
    const STANDARD: [u16; 4] = [110, 995, 143, 993];
    static NEXT: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(2);
    loop {
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        assert!(
            n < 250,
            "no address in 127.0.143.0/24 with ports 110, 995, 143, 993 free"
        );
        let ip = std::net::IpAddr::from([127, 0, 143, n]);
        let free = STANDARD
            .iter()
            .all(|p| std::net::TcpListener::bind((ip, *p)).is_ok());
        if free {
            return Dovecot::start_at(dir, users, ip, Some(STANDARD));
        }
    }
}

/// Dovecot on free ports of 127.0.0.1.
pub fn dovecot_anywhere(dir: &Path, users: &[(&str, &str)]) -> Dovecot {
    Dovecot::start(dir, users)
}

/// Squid, a caching proxy that caches nothing, for `service=http_proxy`.
pub struct Squid {
    pub proc: Proc,
    pub port: u16,
}

impl Squid {
    pub const BINARY: &'static str = "/usr/sbin/squid";

    pub fn start(dir: &Path) -> Squid {
        // Squid drops to its own user (proxy) for its logs.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let port = free_port();
        let conf = dir.join("squid.conf");
        std::fs::write(
            &conf,
            format!(
                "http_port 127.0.0.1:{port}
pid_filename {d}/squid.pid
cache deny all
cache_mem 8 MB
access_log none
cache_store_log none
cache_log {d}/cache.log
coredump_dir {d}
http_access allow localhost
http_access deny all
shutdown_lifetime 0 seconds
dns_nameservers 127.0.0.1
",
                d = dir.display()
            ),
        )
        .unwrap();
        let mut proc = Proc::start_group(
            "squid",
            Command::new(Self::BINARY).arg("-N").arg("-f").arg(&conf),
            &dir.join("squid.out"),
        );
        proc.wait_ready(Duration::from_secs(30), || listening(port));
        Squid { proc, port }
    }
}
