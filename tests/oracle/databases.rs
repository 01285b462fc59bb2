//! The real servers of the differential test that hold accounts and data:
//! MariaDB (mysql), PostgreSQL (pgsql), OpenLDAP's slapd (ldap, ldaps) and
//! FreeRADIUS (radius), each from Debian's packages, started on free
//! loopback ports over a temporary directory, as the leader of its own
//! process group.
//!
//! Each has two users, `probe` (whose password never changes) and `pwuser`
//! (whose password changes in phase 1), and two records, `up` and `res`
//! (`res` goes away in phase 1).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::servers::{
    free_port, free_udp_port, freeradius, listening, postgres, run_ok, slapd, Proc,
};

pub const PROBE_PW: &str = "probe-pw";
pub const PW_PW: &str = "pw-pw";
pub const CHANGED: &str = "changed-pw";

/// MariaDB with database `probedb`, table `health(name, ok)`.
pub struct Mariadb {
    pub proc: Proc,
    pub port: u16,
    dir: PathBuf,
}

impl Mariadb {
    pub const BINARY: &'static str = "/usr/sbin/mariadbd";

    pub fn start(dir: &Path) -> Mariadb {
        // Temporary tables in a directory of its own: two installs at
        // once in the shared /tmp trip over each other's.
        let tmp = dir.join("tmp");
        std::fs::create_dir_all(&tmp).unwrap();
        run_ok(
            Command::new("/usr/bin/mariadb-install-db")
                .env("TMPDIR", &tmp)
                .arg("--no-defaults")
                .arg(format!("--datadir={}", dir.join("data").display()))
                .arg("--user=root")
                .arg("--skip-test-db")
                .arg("--auth-root-authentication-method=socket"),
        );
        let init = format!(
            "CREATE USER 'probe'@'%' IDENTIFIED BY '{PROBE_PW}';
CREATE USER 'pwuser'@'%' IDENTIFIED BY '{PW_PW}';
CREATE DATABASE probedb;
CREATE TABLE probedb.health (name VARCHAR(20), ok INT);
INSERT INTO probedb.health VALUES ('up', 1), ('res', 1);
GRANT SELECT ON probedb.* TO 'probe'@'%';
GRANT SELECT ON probedb.* TO 'pwuser'@'%';
"
        );
        std::fs::write(dir.join("init.sql"), init).unwrap();
        let port = free_port();
        let mut proc = Proc::start_group(
            "mariadbd",
            Command::new(Self::BINARY)
                .arg("--no-defaults")
                .arg(format!("--datadir={}", dir.join("data").display()))
                .arg("--user=root")
                .arg(format!("--port={port}"))
                .arg("--bind-address=127.0.0.1")
                .arg(format!("--socket={}", dir.join("sock").display()))
                .arg(format!("--pid-file={}", dir.join("pid").display()))
                .arg(format!("--tmpdir={}", tmp.display()))
                .arg("--skip-name-resolve")
                .arg("--skip-log-bin")
                .arg("--innodb-buffer-pool-size=16M")
                .arg(format!("--log-error={}", dir.join("error.log").display()))
                .arg(format!("--init-file={}", dir.join("init.sql").display())),
            &dir.join("stdout.log"),
        );
        proc.wait_ready(Duration::from_secs(60), || listening(port));
        Mariadb {
            proc,
            port,
            dir: dir.to_path_buf(),
        }
    }

    /// Phase 1: `pwuser`'s password changes; `res` is no longer ok.
    pub fn spoil(&self) {
        run_ok(
            Command::new("/usr/bin/mariadb")
                .arg(format!("--socket={}", self.dir.join("sock").display()))
                .args(["-u", "root", "-e"])
                .arg(format!(
                    "SET PASSWORD FOR 'pwuser'@'%' = PASSWORD('{CHANGED}'); \
                     UPDATE probedb.health SET ok = 0 WHERE name = 'res';"
                )),
        );
    }
}

/// PostgreSQL (SCRAM-SHA-256 over TCP) with table `health(name, ok)` in
/// database `postgres`.
pub struct Postgres {
    pub proc: Proc,
    pub port: u16,
    bin: PathBuf,
    dir: PathBuf,
}

impl Postgres {
    /// The newest `/usr/lib/postgresql/*/bin`.
    pub fn bin() -> Option<PathBuf> {
        postgres::bin()
    }

    pub fn start(bin: &Path, dir: &Path) -> Postgres {
        let setup = format!(
            "SET password_encryption = 'scram-sha-256';
CREATE USER probe PASSWORD '{PROBE_PW}';
CREATE USER pwuser PASSWORD '{PW_PW}';
CREATE TABLE health (name text, ok int);
INSERT INTO health VALUES ('up', 1), ('res', 1);
GRANT SELECT ON health TO probe, pwuser;
"
        );
        postgres::init(
            bin,
            dir,
            &setup,
            "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n",
        );
        let port = free_port();
        let mut proc = Proc::start_group(
            "postgres",
            &mut postgres::command(bin, dir, port),
            &dir.join("postgres.log"),
        );
        proc.wait_ready(Duration::from_secs(60), || listening(port));
        let p = Postgres {
            proc,
            port,
            bin: bin.to_path_buf(),
            dir: dir.to_path_buf(),
        };
        // Listening comes before accepting logins.
        let mut ok = false;
        for _ in 0..200 {
            if p.psql("SELECT 1").status.success() {
                ok = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(ok, "postgres never accepted a query");
        p
    }

    fn psql(&self, sql: &str) -> std::process::Output {
        let psql = if self.bin.join("psql").exists() {
            self.bin.join("psql")
        } else {
            PathBuf::from("/usr/bin/psql")
        };
        postgres::as_postgres(&mut Command::new(psql))
            .arg("-h")
            .arg(&self.dir)
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                "postgres",
            ])
            .args(["-v", "ON_ERROR_STOP=1", "-c", sql])
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// Phase 1: `pwuser`'s password changes; `res` is no longer ok.
    pub fn spoil(&self) {
        let out = self.psql(&format!(
            "SET password_encryption = 'scram-sha-256'; \
             ALTER USER pwuser PASSWORD '{CHANGED}'; \
             UPDATE health SET ok = 0 WHERE name = 'res';"
        ));
        assert!(
            out.status.success(),
            "psql: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// slapd on ldap:// and ldaps://, suffix `dc=example,dc=com`, with
/// `cn=probe`, `cn=pwuser`, `ou=up` and `ou=res`.
pub struct Slapd {
    pub proc: Proc,
    pub ldap: u16,
    pub ldaps: u16,
}

use super::servers::slapd::ADMIN;
pub use super::servers::slapd::SUFFIX;

impl Slapd {
    pub const BINARY: &'static str = slapd::BINARY;

    pub fn start(dir: &Path) -> Slapd {
        let ldif = format!(
            "dn: {SUFFIX}
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: cn=probe,{SUFFIX}
objectClass: person
cn: probe
sn: probe
userPassword: {PROBE_PW}

dn: cn=pwuser,{SUFFIX}
objectClass: person
cn: pwuser
sn: pwuser
userPassword: {PW_PW}

dn: ou=up,{SUFFIX}
objectClass: organizationalUnit
ou: up

dn: ou=res,{SUFFIX}
objectClass: organizationalUnit
ou: res
"
        );
        let conf = slapd::load(dir, &ldif);
        let (ldap, ldaps) = (free_port(), free_port());
        let mut proc = Proc::start_group(
            "slapd",
            &mut slapd::command(&conf, ldap, ldaps),
            &dir.join("slapd.log"),
        );
        proc.wait_ready(Duration::from_secs(30), || {
            listening(ldap) && listening(ldaps)
        });
        Slapd { proc, ldap, ldaps }
    }

    /// Phase 1: `cn=pwuser`'s password changes; `ou=res` is deleted.
    pub fn spoil(&self) {
        let url = format!("ldap://127.0.0.1:{}", self.ldap);
        let ldif = format!(
            "dn: cn=pwuser,{SUFFIX}\nchangetype: modify\nreplace: userPassword\nuserPassword: {CHANGED}\n\n\
             dn: ou=res,{SUFFIX}\nchangetype: delete\n"
        );
        let mut child = Command::new("/usr/bin/ldapmodify")
            .args(["-x", "-H", &url, "-D", ADMIN, "-w", "admin-pw"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ldapmodify (apt-get install ldap-utils)");
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(ldif.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "ldapmodify: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// FreeRADIUS (PAP, the `files` module) with client secret `probe-secret`.
pub struct Freeradius {
    pub proc: Proc,
    pub port: u16,
    users: PathBuf,
}

pub use super::servers::freeradius::SECRET;

fn radius_users(pw_pw: &str) -> String {
    format!(
        "probe\tCleartext-Password := \"{PROBE_PW}\"\npwuser\tCleartext-Password := \"{pw_pw}\"\n"
    )
}

impl Freeradius {
    pub const BINARY: &'static str = freeradius::BINARY;

    pub fn start(dir: &Path) -> Freeradius {
        let port = free_udp_port();
        freeradius::write_conf(dir, port, None);
        let users = dir.join("users");
        std::fs::write(&users, radius_users(PW_PW)).unwrap();
        let log = dir.join("radiusd.log");
        let mut proc = Proc::start_group("freeradius", &mut freeradius::command(dir), &log);
        proc.wait_ready(Duration::from_secs(30), || {
            std::fs::read_to_string(&log).is_ok_and(|l| l.contains("Ready to process requests"))
        });
        Freeradius { proc, port, users }
    }

    /// Phase 1: `pwuser`'s password changes (the users file is read again
    /// on SIGHUP).
    pub fn spoil(&self) {
        std::fs::write(&self.users, radius_users(CHANGED)).unwrap();
        self.proc.signal_group("HUP");
    }
}
