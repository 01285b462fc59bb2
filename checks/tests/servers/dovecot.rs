//! A real Dovecot (Debian's dovecot-pop3d and dovecot-imapd) for the pop
//! and imap tests: run as root in the foreground with its own temporary
//! `base_dir`, listening on free loopback ports for pop3, pop3s, imap and
//! imaps, with users from a passwd-file (plain passwords, re-read by
//! Dovecot whenever the file changes) and their mail under the directory.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::{free_port, write_cert_for, Proc};

pub const BINARY: &str = "/usr/sbin/dovecot";

/// A running Dovecot, killed when dropped (its whole process group).
pub struct Dovecot {
    pub proc: Proc,
    /// The address it listens on.
    pub ip: IpAddr,
    pub pop3: u16,
    pub pop3s: u16,
    pub imap: u16,
    pub imaps: u16,
    dir: PathBuf,
}

impl Dovecot {
    /// Start Dovecot over `dir` (created empty by the caller) with these
    /// `(user, password)` accounts on free ports of 127.0.0.1; waits until
    /// all four ports listen.
    pub fn start(dir: &Path, users: &[(&str, &str)]) -> Dovecot {
        Self::start_at(dir, users, IpAddr::V4(Ipv4Addr::LOCALHOST), None)
    }

    /// The same on `ip` (any 127.0.0.0/8 address), on `ports` (pop3,
    /// pop3s, imap, imaps) when given, else on free ones.
    pub fn start_at(
        dir: &Path,
        users: &[(&str, &str)],
        ip: IpAddr,
        ports: Option<[u16; 4]>,
    ) -> Dovecot {
        // The mail processes run as nobody: they must reach their homes.
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        for sub in ["run", "state", "mail"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let (uid, gid) = super::user_ids("nobody");
        std::os::unix::fs::chown(dir.join("mail"), Some(uid), Some(gid)).unwrap();
        let (cert, key) = write_cert_for(dir, None, &[ip.to_string()]);
        let [pop3, pop3s, imap, imaps] = ports.unwrap_or_else(|| [(); 4].map(|()| free_port()));
        let d = dir.display();
        let dh = if Path::new("/usr/share/dovecot/dh.pem").exists() {
            "ssl_dh = </usr/share/dovecot/dh.pem\n"
        } else {
            ""
        };
        let conf = format!(
            "base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = pop3 imap
listen = {ip}
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
{dh}disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
passdb {{
  driver = passwd-file
  args = {d}/passwd
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={d}/mail/%u
}}
mail_location = maildir:~/Maildir
# No growing delay after failed logins from one address (the tests fail
# logins on purpose, all from 127.0.0.1): auth penalty off.
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = {ip}
    port = {imap}
  }}
  inet_listener imaps {{
    address = {ip}
    port = {imaps}
    ssl = yes
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    address = {ip}
    port = {pop3}
  }}
  inet_listener pop3s {{
    address = {ip}
    port = {pop3s}
    ssl = yes
  }}
}}
",
            cert = cert.display(),
            key = key.display(),
        );
        std::fs::write(dir.join("dovecot.conf"), conf).unwrap();
        let mut d = Dovecot {
            ip,
            proc: Proc::start_group(
                "dovecot",
                Command::new(BINARY)
                    .arg("-F")
                    .arg("-c")
                    .arg(dir.join("dovecot.conf")),
                &dir.join("stdout.log"),
            ),
            pop3,
            pop3s,
            imap,
            imaps,
            dir: dir.to_path_buf(),
        };
        for (user, pw) in users {
            d.write_password(user, pw);
        }
        let ports = [pop3, pop3s, imap, imaps];
        let listening = |port: u16| {
            let addr = SocketAddr::new(ip, port);
            std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
        };
        d.proc.wait_ready(Duration::from_secs(20), || {
            ports.iter().all(|p| listening(*p))
        });
        d
    }

    /// Set (or add) `user`'s password; Dovecot reads the file anew at a
    /// login after it changed, looking at most once a second: this waits
    /// that second out (when Dovecot runs).
    pub fn set_password(&self, user: &str, password: &str) {
        self.write_password(user, password);
        std::thread::sleep(Duration::from_millis(1100));
    }

    fn write_password(&self, user: &str, password: &str) {
        let path = self.dir.join("passwd");
        let mut lines: Vec<String> = std::fs::read_to_string(&path)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.split(':').next() != Some(user))
            .map(str::to_string)
            .collect();
        lines.push(format!("{user}:{{PLAIN}}{password}"));
        let tmp = self.dir.join("passwd.tmp");
        std::fs::write(&tmp, lines.join("\n") + "\n").unwrap();
        std::fs::rename(&tmp, &path).unwrap();
    }

    /// Dovecot's own log.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.dir.join("dovecot.log")).unwrap_or_default()
    }
}
