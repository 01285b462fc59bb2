//! The two directors under comparison, on the same `ldirectord.cf`:
//! Debian's ldirectord (`/usr/sbin/ldirectord`, unmodified) with the
//! stand-in `ipvsadm` of `bench/` in a private mount namespace, and
//! ldirectord-rs (`run --ipvs memory`). Each is asked which reals are in
//! its table: ldirectord through the stand-in's table file, ldirectord-rs
//! through its status listener.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::servers::Proc;

/// `(virtual, real)`: `tcp:127.100.1.1:80`, `127.0.0.1:8080`.
pub type Entry = (String, String);

/// Build the stand-in ipvsadm (same profile as this test) and return it.
pub fn standin() -> PathBuf {
    let director = PathBuf::from(env!("CARGO_BIN_EXE_ldirectord-rs"));
    let dir = director.parent().expect("binary dir").to_path_buf();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args([
        "build",
        "--quiet",
        "-p",
        "ldirectord-bench",
        "--bin",
        "ipvsadm-standin",
    ])
    .current_dir(env!("CARGO_MANIFEST_DIR"));
    if dir.file_name().and_then(|n| n.to_str()) == Some("release") {
        cmd.arg("--release");
    }
    let st = cmd.status().expect("run cargo build -p ldirectord-bench");
    assert!(st.success(), "cargo build -p ldirectord-bench failed: {st}");
    let bin = dir.join("ipvsadm-standin");
    assert!(bin.exists(), "{} missing after the build", bin.display());
    bin
}

/// Debian's ldirectord, in the foreground (`supervised=yes`), one forked
/// child per virtual (`fork=yes`), so that a check that hangs holds up
/// only its own virtual. Its TLS clients (LWP, IO::Socket::SSL) verify
/// the server's certificate chain by default: they are given the test CA.
pub struct Ldirectord {
    proc: Proc,
    table: PathBuf,
    out: PathBuf,
}

impl Ldirectord {
    pub fn start(dir: &Path, standin: &Path, config: &Path, ca: &Path) -> Ldirectord {
        let state = dir.join("ipvsadm");
        std::fs::create_dir_all(&state).unwrap();
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/ldirectord/run-ldirectord.sh");
        let out = dir.join("ldirectord.out");
        let proc = Proc::start_group(
            "ldirectord",
            Command::new("sh")
                .arg(&script)
                .arg(standin)
                .arg(config)
                .env("IPVSADM_STANDIN_DIR", &state)
                .env("SSL_CERT_FILE", ca)
                .env("PERL_LWP_SSL_CA_FILE", ca),
            &out,
        );
        Ldirectord {
            proc,
            table: state.join("table"),
            out,
        }
    }

    /// The reals in the stand-in's table.
    pub fn table(&self) -> BTreeSet<Entry> {
        let text = std::fs::read_to_string(&self.table).unwrap_or_default();
        text.lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                match f.as_slice() {
                    ["R", svc, rip, ..] => {
                        let (proto, addr) = svc.split_once(' ')?;
                        Some((
                            format!("{}:{}", proto.to_ascii_lowercase(), addr.trim()),
                            rip.to_string(),
                        ))
                    }
                    _ => None,
                }
            })
            .collect()
    }

    /// Its log (stdout and stderr), for a failure message.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    /// The last log lines that mention `needle`.
    pub fn log_about(&self, needle: &str, n: usize) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().filter(|l| l.contains(needle)).collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    pub fn stop(self) {
        self.proc.stop();
    }
}

/// ldirectord-rs on its in-memory table, with a status listener.
pub struct Rs {
    proc: Proc,
    status: SocketAddr,
    rt: tokio::runtime::Runtime,
    out: PathBuf,
}

/// What ldirectord-rs says about one real.
#[derive(Debug, Clone)]
pub struct RsReal {
    pub in_table: bool,
    pub state: String,
    pub reason: String,
}

impl Rs {
    pub fn start(dir: &Path, config: &Path, status: SocketAddr) -> Rs {
        let out = dir.join("ldirectord-rs.out");
        let mut proc = Proc::start(
            "ldirectord-rs",
            Command::new(env!("CARGO_BIN_EXE_ldirectord-rs"))
                .arg("-f")
                .arg(config)
                .args(["run", "--ipvs", "memory"]),
            &out,
        );
        proc.wait_ready(Duration::from_secs(30), || {
            std::net::TcpStream::connect_timeout(&status, Duration::from_millis(200)).is_ok()
        });
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        Rs {
            proc,
            status,
            rt,
            out,
        }
    }

    /// Every real of the config, with whether it is in the table.
    pub fn reals(&self) -> Vec<(Entry, RsReal)> {
        let body = self
            .rt
            .block_on(ldirectord_rs::output::status::fetch(self.status, "/status"))
            .unwrap_or_else(|e| panic!("ldirectord-rs status: {e}\n{}", self.log()));
        let status: ldirectord_rs::output::status::Status =
            serde_json::from_str(&body).expect("status JSON");
        let mut out = Vec::new();
        for v in status.virtuals {
            for r in v.reals {
                out.push((
                    (v.virtual_.clone(), r.real.clone()),
                    RsReal {
                        in_table: r.table_weight.is_some(),
                        state: r.state,
                        reason: r.last_reason.unwrap_or_default(),
                    },
                ));
            }
        }
        out
    }

    /// The reals in its table.
    pub fn table(&self) -> BTreeSet<Entry> {
        self.reals()
            .into_iter()
            .filter(|(_, r)| r.in_table)
            .map(|(e, _)| e)
            .collect()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    pub fn stop(self) {
        self.proc.stop();
    }
}
