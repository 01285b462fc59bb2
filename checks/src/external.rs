//! `checktype=external`: run a command; exit status 0 is up.
//!
//! The command runs with the arguments as given (no shell), stdin from
//! `/dev/null`, and in its own process group, so that on the deadline (or if
//! the probe is dropped) the command and everything it started are killed
//! with SIGKILL. When the command exits, what it left running in its group
//! is killed too (before the command is reaped, so the group's id is still
//! ours): a check leaves nothing behind. At most [`MAX_EXTERNAL_OUTPUT`] bytes of each of stdout and
//! stderr are kept; the rest is read and discarded, so a chatty command never
//! blocks on a full pipe and never grows memory.

use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::time::Instant;

use crate::sys;
use crate::{down, timed_out, up, Verdict, MAX_EXTERNAL_OUTPUT};

/// After the command exits, how long to wait for the rest of its output (a
/// background child of the command may hold the pipes open).
const OUTPUT_GRACE: Duration = Duration::from_millis(100);

pub(crate) async fn check(
    command: &str,
    args: &[String],
    deadline: Instant,
    timeout: Duration,
) -> Verdict {
    let mut cmd = tokio::process::Command::new(command);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return down(format!("cannot run {command:?}: {e}")),
    };
    // Kills the whole group if we leave before the command was reaped
    // (deadline, or this future dropped).
    let mut group = GroupKiller(child.id());
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();

    let finished = tokio::time::timeout_at(deadline, async {
        let mut out_fut = std::pin::pin!(read_bounded(stdout));
        let mut err_fut = std::pin::pin!(read_bounded(stderr));
        let mut out = None;
        let mut err = None;
        // Wait for the exit without reaping (the id stays ours), kill what
        // is left of the group (a `sleep 1000 &` of the command would
        // otherwise outlive every check, one more each round), then reap.
        let exited = match group.0 {
            Some(pid) => loop {
                tokio::select! {
                    r = sys::exited(pid) => break r,
                    o = &mut out_fut, if out.is_none() => out = Some(o),
                    e = &mut err_fut, if err.is_none() => err = Some(e),
                }
            },
            None => Ok(()),
        };
        if let Err(e) = exited {
            return Err(format!("waiting for {command:?} failed: {e}"));
        }
        if let Some(pgid) = group.0 {
            sys::kill_process_group(pgid);
        }
        let status = match child.wait().await {
            Ok(s) => s,
            Err(e) => return Err(format!("waiting for {command:?} failed: {e}")),
        };
        // Reaped: its process group id may be reused from now on.
        group.0 = None;
        let grace = Instant::now() + OUTPUT_GRACE;
        if out.is_none() {
            out = tokio::time::timeout_at(grace, &mut out_fut).await.ok();
        }
        if err.is_none() {
            err = tokio::time::timeout_at(grace, &mut err_fut).await.ok();
        }
        Ok((status, out.unwrap_or_default(), err.unwrap_or_default()))
    })
    .await;

    match finished {
        Err(_) => down(timed_out(timeout)), // `group` and `child` dropped: killed
        Ok(Err(reason)) => down(reason),
        Ok(Ok((status, out, err))) => judge(status, &out, &err),
    }
}

fn judge(status: ExitStatus, stdout: &[u8], stderr: &[u8]) -> Verdict {
    use std::os::unix::process::ExitStatusExt;
    let what = match (status.code(), status.signal()) {
        (Some(0), _) => return up("exit status 0"),
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        (None, None) => format!("{status}"),
    };
    match first_line(stderr).or_else(|| first_line(stdout)) {
        Some(line) => down(format!("{what}: {line}")),
        None => down(what),
    }
}

/// The first non-empty line, trimmed.
fn first_line(bytes: &[u8]) -> Option<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_string)
}

/// Read to EOF, keeping the first [`MAX_EXTERNAL_OUTPUT`] bytes.
async fn read_bounded(pipe: Option<impl AsyncRead + Unpin>) -> Vec<u8> {
    let mut kept = Vec::new();
    let Some(mut pipe) = pipe else {
        return kept;
    };
    let mut chunk = [0u8; 4096];
    loop {
        match pipe.read(&mut chunk).await {
            Ok(0) | Err(_) => return kept,
            Ok(n) => {
                let room = MAX_EXTERNAL_OUTPUT - kept.len();
                kept.extend_from_slice(&chunk[..n.min(room)]);
            }
        }
    }
}

/// SIGKILLs process group `.0` on drop, unless cleared.
struct GroupKiller(Option<u32>);

impl Drop for GroupKiller {
    fn drop(&mut self) {
        if let Some(pgid) = self.0 {
            // The group leader is our unreaped child: the id is still ours.
            sys::kill_process_group(pgid);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_line_skips_blank_lines() {
        assert_eq!(
            first_line(b"\n  \n oops: bad\nmore"),
            Some("oops: bad".into())
        );
        assert_eq!(first_line(b""), None);
        assert_eq!(first_line(b"\n\n"), None);
    }
}
