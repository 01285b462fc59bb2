//! `Probe::External` with real commands.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ldirectord_checks::{run, Probe};

const T: Duration = Duration::from_secs(5);

fn addr() -> SocketAddr {
    // Not contacted by external probes.
    "127.0.0.1:9".parse().unwrap()
}

fn ext(command: &str, args: &[&str]) -> Probe {
    Probe::External {
        command: command.to_string(),
        args: args.iter().map(std::string::ToString::to_string).collect(),
    }
}

#[tokio::test]
async fn true_is_up_false_is_down() {
    let out = run(&ext("true", &[]), addr(), T).await;
    assert!(out.up, "{out:?}");
    assert_eq!(out.reason, "exit status 0");
    let out = run(&ext("false", &[]), addr(), T).await;
    assert!(!out.up);
    assert_eq!(out.reason, "exit status 1");
}

#[tokio::test]
async fn failure_reason_has_the_first_stderr_line() {
    let out = run(
        &ext(
            "sh",
            &[
                "-c",
                "echo to-stdout; echo 'db: no route' >&2; echo more >&2; exit 3",
            ],
        ),
        addr(),
        T,
    )
    .await;
    assert!(!out.up);
    assert_eq!(out.reason, "exit status 3: db: no route");
    // Without stderr, stdout's first line.
    let out = run(&ext("sh", &["-c", "echo only-stdout; exit 2"]), addr(), T).await;
    assert_eq!(out.reason, "exit status 2: only-stdout");
}

#[tokio::test]
async fn args_are_passed_as_given() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("args");
    let script = format!("printf '%s|' \"$@\" > {}", file.display());
    let out = run(
        &ext(
            "sh",
            &[
                "-c",
                &script,
                "sh",
                "10.0.0.1",
                "80",
                "192.168.1.2 x",
                "8080",
            ],
        ),
        addr(),
        T,
    )
    .await;
    assert!(out.up, "{out:?}");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "10.0.0.1|80|192.168.1.2 x|8080|"
    );
}

#[tokio::test]
async fn stdin_is_null() {
    // `cat` would block forever on an inherited terminal or pipe.
    let out = run(&ext("cat", &[]), addr(), T).await;
    assert!(out.up, "{out:?}");
}

#[tokio::test]
async fn sleep_is_killed_at_the_deadline() {
    let start = Instant::now();
    let out = run(&ext("sleep", &["10"]), addr(), Duration::from_secs(1)).await;
    assert!(!out.up);
    assert_eq!(out.reason, "timed out after 1s");
    assert!(start.elapsed() < Duration::from_secs(5));
}

/// True once `pid` is gone or a zombie (killed, not yet reaped by its parent).
fn dead(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

async fn wait_dead(pid: u32) -> bool {
    for _ in 0..50 {
        if dead(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn timeout_kills_the_command_and_its_children() {
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    // The shell starts a background sleep (a grandchild of the probe) and
    // then waits: both must die at the deadline.
    let script = format!("sleep 30 & echo $$ $! > {}; wait", pids.display());
    let start = Instant::now();
    let out = run(&ext("sh", &["-c", &script]), addr(), Duration::from_secs(1)).await;
    assert_eq!(out.reason, "timed out after 1s");
    assert!(start.elapsed() < Duration::from_secs(5));
    let text = std::fs::read_to_string(&pids).unwrap();
    let ids: Vec<u32> = text
        .split_whitespace()
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{text}");
    for pid in ids {
        assert!(
            wait_dead(pid).await,
            "process {pid} still alive after the timeout"
        );
    }
}

#[tokio::test]
async fn chatty_command_does_not_block_or_grow() {
    // 8 MiB on stdout: far over the pipe buffer and the 4 KiB kept.
    let out = run(
        &ext("sh", &["-c", "head -c 8388608 /dev/zero; exit 0"]),
        addr(),
        T,
    )
    .await;
    assert!(out.up, "{out:?}");
}

#[tokio::test]
async fn background_child_holding_the_pipes_does_not_delay_the_verdict() {
    let start = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    let script = format!("sleep 3 & echo $! > {}; exit 0", pidfile.display());
    let out = run(&ext("sh", &["-c", &script]), addr(), T).await;
    assert!(out.up, "{out:?}");
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    // Clean up the sleep we caused, by its pid.
    if let Ok(pid) = std::fs::read_to_string(&pidfile) {
        let _ = std::process::Command::new("kill").arg(pid.trim()).status();
    }
}

#[tokio::test]
async fn killed_by_signal_and_missing_command() {
    let out = run(&ext("sh", &["-c", "kill -9 $$"]), addr(), T).await;
    assert!(!out.up);
    assert_eq!(out.reason, "killed by signal 9");
    let out = run(&ext("/nonexistent/check-command", &[]), addr(), T).await;
    assert!(!out.up);
    assert!(
        out.reason
            .starts_with(r#"cannot run "/nonexistent/check-command": "#),
        "{}",
        out.reason
    );
}
