//! Keeps the scale benchmark harness (bench/, see BENCHMARKS.md) from rotting:
//! a small-N run of the real harness against the real director, asserting the
//! result file is complete and every injected failure was detected. No timing
//! assertion: the figures of a 20-real run on a busy CI machine mean nothing.
//!
//! When Debian's ldirectord is installed (/usr/sbin/ldirectord) and this runs as
//! root, the same run also drives ldirectord through the stand-in ipvsadm.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Build the bench binaries (same profile as this test) and return their dir.
fn bench_bins() -> PathBuf {
    let director = PathBuf::from(env!("CARGO_BIN_EXE_ldirectord-rs"));
    let dir = director.parent().expect("binary dir").to_path_buf();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--quiet", "-p", "ldirectord-bench", "--bins"])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if dir.file_name().and_then(|n| n.to_str()) == Some("release") {
        cmd.arg("--release");
    }
    let st = cmd.status().expect("run cargo build -p ldirectord-bench");
    assert!(st.success(), "cargo build -p ldirectord-bench failed: {st}");
    for b in ["backends", "floor", "harness", "ipvsadm-standin"] {
        assert!(
            dir.join(b).exists(),
            "{} missing after the build",
            dir.join(b).display()
        );
    }
    dir
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
    })
}

fn num(v: &Value, ptr: &str) -> f64 {
    v.pointer(ptr)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("field {ptr} missing or not a number in {v}"))
}

fn check_subject(r: &Value, n: usize) {
    let name = r["subject"].as_str().unwrap_or("?");
    assert!(r.get("error").is_none(), "{name}: {}", r["error"]);
    assert_eq!(
        r["table_full"],
        Value::Bool(true),
        "{name}: table never full"
    );
    // Steady state: checks happened, CPU and memory were read.
    assert!(
        num(r, "/steady/checks") > 0.0,
        "{name}: no checks in the steady window"
    );
    num(r, "/steady/cpu_s_per_1000_checks");
    num(r, "/steady/cores");
    num(r, "/steady/gaps_s/p50");
    num(r, "/steady/gaps_s/p99");
    num(r, "/steady/gaps_s/max");
    num(r, "/steady/gaps_s/late_reals");
    assert!(num(r, "/peak_rss_kib") > 0.0, "{name}: no peak RSS");
    // Both failure modes: every failed real detected, and restored.
    for ph in ["fail", "hang"] {
        let failed = num(r, &format!("/{ph}/failed_reals"));
        assert_eq!(failed, (n / 10) as f64, "{name} {ph}: failed count");
        assert_eq!(
            num(r, &format!("/{ph}/detected")),
            failed,
            "{name} {ph}: not every failed real detected: {}",
            r[ph]
        );
        assert_eq!(r[ph]["all_detected"], Value::Bool(true), "{name} {ph}");
        assert_eq!(
            r[ph]["all_recovered"],
            Value::Bool(true),
            "{name} {ph}: not all restored: {}",
            r[ph]
        );
        assert_eq!(
            num(r, &format!("/{ph}/false_deletions")),
            0.0,
            "{name} {ph}: healthy reals deleted"
        );
        num(r, &format!("/{ph}/detection_s/p50"));
        num(r, &format!("/{ph}/detection_s/p99"));
        num(r, &format!("/{ph}/detection_s/max"));
        num(r, &format!("/{ph}/healthy_gaps_s/max"));
    }
    // Reload with one weight changed: completed, with table operations counted.
    assert_eq!(
        r["reload"]["completed"],
        Value::Bool(true),
        "{name}: reload: {}",
        r["reload"]
    );
    assert!(
        num(r, "/reload/table_ops") >= 1.0,
        "{name}: reload caused no table operation"
    );
}

#[test]
fn bench_harness_small_run() {
    let bins = bench_bins();
    let out = tempfile::tempdir().expect("tempdir");
    let n = 20usize;
    let with_ld = Path::new("/usr/sbin/ldirectord").exists() && is_root();
    // A control port of our own, so parallel runs of different checkouts don't meet.
    let control = format!("127.0.0.1:{}", 20000 + std::process::id() % 20000);
    let st = Command::new(bins.join("harness"))
        .args(["--sizes", &n.to_string()])
        .args(["--ldirectord-sizes", if with_ld { "20" } else { "none" }])
        .args(["--out", out.path().to_str().unwrap()])
        .args(["--bin-dir", bins.to_str().unwrap()])
        .args(["--director", env!("CARGO_BIN_EXE_ldirectord-rs")])
        .args([
            "--steady",
            "2",
            "--warmup",
            "1",
            "--interval",
            "1",
            "--timeout",
            "2",
        ])
        .args(["--ld-max-wait", "30", "--control", &control])
        .status()
        .expect("run harness");
    assert!(st.success(), "harness exited with {st}");
    let js: Value = serde_json::from_str(
        &std::fs::read_to_string(out.path().join("results.json")).expect("results.json"),
    )
    .expect("results.json is JSON");
    assert!(out.path().join("results.md").exists());
    assert!(num(&js, "/machine/nproc") >= 1.0);
    let size = &js["sizes"][0];
    assert_eq!(num(size, "/n"), n as f64);
    assert!(
        num(size, "/floor/paced/checks") > 0.0,
        "floor: {}",
        size["floor"]
    );
    num(size, "/floor/paced/cpu_s_per_1000_checks");
    num(size, "/floor/seq/cpu_s_per_1000_checks");
    let subjects = size["subjects"].as_array().expect("subjects");
    assert_eq!(subjects.len(), if with_ld { 2 } else { 1 });
    assert_eq!(subjects[0]["subject"], "ldirectord-rs");
    for r in subjects {
        check_subject(r, n);
    }
    // ldirectord-rs reports the reload itself: exactly one operation, for the changed real.
    assert_eq!(
        subjects[0]["reload"]["ops_only_for_changed_real"],
        Value::Bool(true),
        "{}",
        subjects[0]["reload"]
    );
    if with_ld {
        assert!(size["ratios_ldirectord_over_rs"].is_object());
    }
}
