//! ldirectord as the oracle: Debian's ldirectord (`/usr/sbin/ldirectord`,
//! with the stand-in ipvsadm of `bench/`) and ldirectord-rs (`run --ipvs
//! memory`) run the same `ldirectord.cf` (ldirectord-rs's copy adds only a
//! `statusaddress=` line) against the same real servers from Debian's
//! packages, and must agree on which reals are in the table:
//!
//! - phase 0: every server up;
//! - phase 1: on the servers that stay up, a user's password changes and a
//!   result changes (a file's content, a DNS name's address, a row, an LDAP
//!   entry); the other server of each kind hangs (SIGSTOP of its process
//!   group: connections are accepted, nothing answers);
//! - phase 2: the hung servers are killed (stopped).
//!
//! Where ldirectord is wrong (it hangs, or passes a dead server), the case
//! says so (`Known`), and the test asserts the better verdict for
//! ldirectord-rs and ldirectord's known one for ldirectord. Any other
//! disagreement fails the test. The agreement table is printed at the end
//! (`cargo test --test oracle -- --nocapture`).
//!
//! Needs root (the stand-in is bind-mounted over /usr/sbin/ipvsadm in a
//! private mount namespace), `unshare`, ldirectord and the Perl modules of
//! its checks, and the servers' packages (see `.ci/oracle.sh`); otherwise
//! the test, or the services lacking something, print `SKIPPED` and pass.
//! `ORACLE_SERVICES=http,dns` runs only those services.

#[path = "../checks/tests/servers/mod.rs"]
mod servers;

#[path = "oracle/cases.rs"]
mod cases;
#[path = "oracle/daemons.rs"]
mod daemons;
#[path = "oracle/databases.rs"]
mod databases;
#[path = "oracle/directors.rs"]
mod directors;
#[path = "oracle/lab.rs"]
mod lab;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use cases::{Breakage, Case, Known};
use directors::{Entry, Ldirectord, Rs};
use lab::Lab;

/// Check timings: ldirectord checks each virtual's reals one after the
/// other (here one real per virtual, each virtual in its own child).
const GLOBALS: &str = "checktimeout=3
negotiatetimeout=3
checkinterval=2
failurecount=1
quiescent=no
fork=yes
supervised=yes
";

/// How long each phase is watched at least (long enough for several
/// rounds of every ldirectord child), and at most.
const MIN_WATCH: Duration = Duration::from_secs(15);
const MAX_WATCH: Duration = Duration::from_secs(60);

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
    })
}

fn perl_has(module: &str) -> bool {
    Command::new("perl")
        .arg(format!("-M{module}"))
        .args(["-e", "1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The services to run: `ORACLE_SERVICES`, else all; less those whose
/// server or Perl modules are missing (printed as SKIPPED).
fn selection() -> Vec<&'static str> {
    let wanted: Option<Vec<String>> = std::env::var("ORACLE_SERVICES")
        .ok()
        .map(|v| v.split(',').map(|s| s.trim().to_string()).collect());
    let mut out = Vec::new();
    for s in cases::SERVICES {
        if wanted.as_ref().is_some_and(|w| !w.iter().any(|x| x == s)) {
            continue;
        }
        if let Some((bin, package)) = cases::server_binary(s) {
            if !Path::new(bin).exists() {
                println!("SKIPPED {s}: {bin} not found (apt-get install {package})");
                continue;
            }
        }
        if *s == "pgsql" && databases::Postgres::bin().is_none() {
            println!("SKIPPED pgsql: no /usr/lib/postgresql/*/bin (apt-get install postgresql)");
            continue;
        }
        if matches!(*s, "ftp" | "smtp")
            && !(daemons::Ftpd::available() && daemons::Smtpd::available())
        {
            println!("SKIPPED {s}: python3 with pyftpdlib and smtpd needed (apt-get install python3-pyftpdlib)");
            continue;
        }
        if let Some(m) = cases::perl_modules(s).iter().find(|m| !perl_has(m)) {
            println!(
                "SKIPPED {s}: ldirectord's check needs the Perl module {m} (see .ci/oracle.sh)"
            );
            continue;
        }
        out.push(*s);
    }
    out
}

/// One look at both tables.
struct Look {
    ld: BTreeSet<Entry>,
    rs: BTreeSet<Entry>,
}

fn key(c: &Case) -> Entry {
    (c.virtual_.clone(), c.real.clone())
}

/// ldirectord's verdict is acceptable: the right one, or its known one.
fn ld_ok(c: &Case, phase: usize, in_table: bool) -> bool {
    in_table == c.expect[phase]
        || c.known
            .iter()
            .any(|k| k.phase == phase && k.ld_in_table == in_table)
}

/// Watch both tables until every case is as it should be (at least
/// `min`, at most [`MAX_WATCH`]); the last look.
fn watch(ld: &Ldirectord, rs: &Rs, cases: &[Case], phase: usize, min: Duration) -> Look {
    let start = Instant::now();
    loop {
        let look = Look {
            ld: ld.table(),
            rs: rs.table(),
        };
        let settled = cases.iter().all(|c| {
            let k = key(c);
            look.rs.contains(&k) == c.expect[phase] && ld_ok(c, phase, look.ld.contains(&k))
        });
        let t = start.elapsed();
        if (settled && t >= min) || t >= MAX_WATCH {
            println!(
                "phase {phase}: watched {:.1}s, settled: {settled}",
                t.as_secs_f64()
            );
            return look;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// One row of the agreement table.
struct Row {
    service: &'static str,
    situation: String,
    expect: bool,
    ld: bool,
    rs: bool,
    note: String,
}

fn verdict(in_table: bool) -> &'static str {
    if in_table {
        "in"
    } else {
        "out"
    }
}

/// The situation a case is in at `phase`, when worth a row.
fn situation(c: &Case, phase: usize) -> Option<String> {
    Some(match (c.breakage, phase) {
        (Breakage::Control, 0) => format!("{} (all up)", c.label),
        (Breakage::Control, 1) => format!("{} (others broken)", c.label),
        (Breakage::WrongPassword | Breakage::WrongResult, 1) => c.label.clone(),
        (Breakage::HungThenStopped, 1) => c.label.replace(", then stopped", ""),
        (Breakage::HungThenStopped, 2) => c.label.replace("hung, then stopped", "stopped"),
        _ => return None,
    })
}

/// Check one phase's look; rows for the report, problems for the failure.
fn judge(
    cases: &[Case],
    phase: usize,
    look: &Look,
    ld: &Ldirectord,
    rs: &Rs,
    rows: &mut Vec<Row>,
    problems: &mut Vec<String>,
) {
    let reasons = rs.reals();
    for c in cases {
        let k = key(c);
        let (l, r) = (look.ld.contains(&k), look.rs.contains(&k));
        let known: Option<&Known> = c
            .known
            .iter()
            .find(|k| k.phase == phase && k.ld_in_table == l && l != c.expect[phase]);
        let rs_reason = reasons
            .iter()
            .find(|(e, _)| *e == k)
            .map(|(_, s)| format!("{} ({})", s.state, s.reason))
            .unwrap_or_default();
        if r != c.expect[phase] {
            problems.push(format!(
                "phase {phase}, {} {}: ldirectord-rs has the real {}, should be {}: {rs_reason}",
                c.service,
                c.label,
                verdict(r),
                verdict(c.expect[phase])
            ));
        }
        if !ld_ok(c, phase, l) {
            problems.push(format!(
                "phase {phase}, {} {}: ldirectord has the real {}, expected {} (ldirectord-rs: {}); its log:\n{}",
                c.service,
                c.label,
                verdict(l),
                verdict(c.expect[phase]),
                verdict(r),
                ld.log_about(&c.real, 6)
            ));
        }
        if let Some(situation) = situation(c, phase) {
            rows.push(Row {
                service: c.service,
                situation,
                expect: c.expect[phase],
                ld: l,
                rs: r,
                note: match known {
                    Some(k) => format!("ldirectord wrong: {}", k.why),
                    None if l != r => "DISAGREE".into(),
                    None => String::new(),
                },
            });
        }
    }
}

fn print_table(rows: &mut [Row]) {
    // By service, then phase (the rows come phase by phase).
    let order = |s: &str| cases::SERVICES.iter().position(|x| *x == s);
    rows.sort_by_key(|r| order(r.service));
    println!(
        "\n{:<11} {:<36} {:<8} {:<11} {:<14} note",
        "service", "situation", "right", "ldirectord", "ldirectord-rs"
    );
    for r in rows {
        println!(
            "{:<11} {:<36} {:<8} {:<11} {:<14} {}",
            r.service,
            r.situation,
            verdict(r.expect),
            verdict(r.ld),
            verdict(r.rs),
            r.note
        );
    }
}

#[test]
fn ldirectord_and_ldirectord_rs_agree() {
    if !is_root() {
        println!("SKIPPED: needs root (a private mount namespace for the stand-in ipvsadm)");
        return;
    }
    for (path, package) in [
        ("/usr/sbin/ldirectord", "ldirectord"),
        ("/usr/bin/unshare", "util-linux"),
    ] {
        if !Path::new(path).exists() {
            println!("SKIPPED: {path} not found (apt-get install {package})");
            return;
        }
    }
    let services = selection();
    if services.is_empty() {
        println!("SKIPPED: no service can run here");
        return;
    }
    println!("services: {}", services.join(" "));
    let standin = directors::standin();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let started = Instant::now();
    let lab = Lab::start(dir, &services);
    println!("servers up in {:.1}s", started.elapsed().as_secs_f64());
    let cases = cases::cases(&lab, &services);

    // The same ldirectord.cf for both; a name of its own (ldirectord's pid
    // file is named after it).
    let mut cf = String::from(GLOBALS);
    for c in &cases {
        cf.push_str(&c.block);
    }
    let ld_cf = dir.join(format!("oracle-{}.cf", std::process::id()));
    std::fs::write(&ld_cf, &cf).unwrap();
    let status = servers::local(servers::free_port());
    let rs_cf = dir.join("oracle-rs.cf");
    std::fs::write(&rs_cf, format!("statusaddress={status}\n{cf}")).unwrap();

    let rs = Rs::start(dir, &rs_cf, status);
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, servers::test_ca_pem()).unwrap();
    let ld = Ldirectord::start(dir, &standin, &ld_cf, &ca);

    let mut rows = Vec::new();
    let mut problems = Vec::new();
    let look = watch(&ld, &rs, &cases, 0, Duration::ZERO);
    judge(&cases, 0, &look, &ld, &rs, &mut rows, &mut problems);
    if problems.is_empty() {
        lab.break_things();
        let look = watch(&ld, &rs, &cases, 1, MIN_WATCH);
        judge(&cases, 1, &look, &ld, &rs, &mut rows, &mut problems);
        lab.kill_doomed();
        let look = watch(&ld, &rs, &cases, 2, MIN_WATCH);
        judge(&cases, 2, &look, &ld, &rs, &mut rows, &mut problems);
    }
    print_table(&mut rows);
    println!("\ntotal {:.1}s", started.elapsed().as_secs_f64());
    if !problems.is_empty() {
        // Its last lines, without Perl's warnings about the stand-in's
        // listing.
        let log = ld.log();
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| !l.starts_with("Use of uninitialized"))
            .collect();
        println!(
            "\nldirectord's log (end):\n{}",
            lines[lines.len().saturating_sub(80)..].join("\n")
        );
    }
    ld.stop();
    rs.stop();
    assert!(
        problems.is_empty(),
        "the directors do not agree:\n{}",
        problems.join("\n")
    );
}
