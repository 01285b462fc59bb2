//! OpenLDAP's slapd (Debian's slapd) for the ldap tests and the oracle:
//! an mdb database for `dc=example,dc=com` in a temporary directory, TLS
//! with a fresh self-signed certificate, `cn=admin` as root.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{run_ok, write_cert};

pub const BINARY: &str = "/usr/sbin/slapd";
pub const SUFFIX: &str = "dc=example,dc=com";
pub const ADMIN: &str = "cn=admin,dc=example,dc=com";

/// Write `dir/slapd.conf` (database in `dir/db`, certificate in `dir`) and
/// load `ldif` into the database; returns the config's path.
pub fn load(dir: &Path, ldif: &str) -> PathBuf {
    std::fs::create_dir(dir.join("db")).unwrap();
    let (cert, key) = write_cert(dir, None);
    let conf = dir.join("slapd.conf");
    std::fs::write(
        &conf,
        format!(
            "include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile {pid}
TLSCertificateFile {cert}
TLSCertificateKeyFile {key}
database mdb
maxsize 10485760
suffix \"{SUFFIX}\"
rootdn \"{ADMIN}\"
rootpw admin-pw
directory {db}
",
            pid = dir.join("slapd.pid").display(),
            cert = cert.display(),
            key = key.display(),
            db = dir.join("db").display(),
        ),
    )
    .unwrap();
    std::fs::write(dir.join("data.ldif"), ldif).unwrap();
    run_ok(
        Command::new("/usr/sbin/slapadd")
            .arg("-f")
            .arg(&conf)
            .arg("-l")
            .arg(dir.join("data.ldif")),
    );
    conf
}

/// slapd in the foreground over `conf`, ldap on `ldap`, ldaps on `ldaps`.
pub fn command(conf: &Path, ldap: u16, ldaps: u16) -> Command {
    let mut cmd = Command::new(BINARY);
    cmd.arg("-f")
        .arg(conf)
        .arg("-h")
        .arg(format!(
            "ldap://127.0.0.1:{ldap}/ ldaps://127.0.0.1:{ldaps}/"
        ))
        .args(["-d", "0"]);
    cmd
}
