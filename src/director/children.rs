//! The director's own child processes: `fallbackcommand` and `callback`.
//!
//! Each runs as `/bin/sh -c` (as ldirectord's `system()` did), in the
//! background, with:
//! - standard input from `/dev/null`;
//! - a process group of its own, killed as a whole (the shell and whatever
//!   it started) at the timeout ([`HOOK_TIMEOUT`]) and when the director
//!   stops; a command that must leave something running after it returns
//!   has to detach it (`setsid`, `systemctl start`, a daemon that forks);
//! - its output read, never inherited: nothing a command prints reaches the
//!   director's own standard output; the first [`KEEP`] bytes of each
//!   stream are kept, the rest counted and discarded, and one line per
//!   stream that printed something goes to the event log, with the exit
//!   status when it failed.
//!
//! The lines for the event log are left in [`Notes`], which the director
//! drains once a second (and when it stops).

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Lines for the event log from tasks other than the director's own.
pub(super) type Notes = Arc<Mutex<Vec<String>>>;

/// How long a hook may run before it is killed with its process group.
pub(super) const HOOK_TIMEOUT: Duration = Duration::from_secs(60);

/// Bytes of each output stream kept for the log.
const KEEP: usize = 4096;

/// After the shell exits, how long to wait for the rest of its output (a
/// background child of the command may hold the pipes open).
const OUTPUT_GRACE: Duration = Duration::from_millis(100);

/// The running hooks, and where their lines go.
pub(super) struct Children {
    notes: Notes,
    /// Cancelled when the director stops: each hook still running is
    /// killed with its process group.
    stop: CancellationToken,
    /// The tasks following the hooks.
    running: TaskTracker,
}

impl Children {
    pub(super) fn new(notes: Notes) -> Children {
        Children {
            notes,
            stop: CancellationToken::new(),
            running: TaskTracker::new(),
        }
    }

    /// Run `cmd` (a shell command line) with `args` appended as separate
    /// arguments, in the background, for at most [`HOOK_TIMEOUT`]. `label`
    /// (`fallbackcommand`, `callback`) names it in the log.
    pub(super) fn run(&self, label: &str, cmd: &str, args: &[&str]) {
        self.run_for(label, cmd, args, HOOK_TIMEOUT);
    }

    pub(super) fn run_for(&self, label: &str, cmd: &str, args: &[&str], timeout: Duration) {
        let what = format!("{label} \"{cmd} {}\"", args.join(" "));
        let mut c = tokio::process::Command::new("/bin/sh");
        c.arg("-c")
            .arg(format!("{cmd} \"$@\""))
            .arg("sh")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        match c.spawn() {
            Ok(child) => {
                self.running.spawn(watch(
                    child,
                    what,
                    timeout,
                    self.stop.clone(),
                    self.notes.clone(),
                ));
            }
            Err(e) => self.note(format!("Error: cannot run {what}: {e}")),
        }
    }

    /// Kill every hook still running, with its process group.
    pub(super) fn stop(&self) {
        self.stop.cancel();
    }

    /// After [`Children::stop`]: wait (at most `limit`) until every hook
    /// was killed and reaped, and its lines noted.
    pub(super) async fn wait(&self, limit: Duration) {
        self.running.close();
        let _ = tokio::time::timeout(limit, self.running.wait()).await;
    }

    fn note(&self, line: String) {
        self.notes.lock().unwrap().push(line);
    }
}

/// How a hook ended.
enum Ended {
    Exited(std::io::Result<std::process::ExitStatus>),
    TimedOut,
    Stopped,
}

/// Follow one hook to its end: read its output (bounded), kill its group
/// at the timeout or the stop, note what happened.
async fn watch(
    mut child: tokio::process::Child,
    what: String,
    timeout: Duration,
    stop: CancellationToken,
    notes: Notes,
) {
    // Killed with its group if this task is dropped before the shell was
    // reaped (the runtime shutting down).
    let mut group = crate::sys::Group::led_by(child.id());
    let mut out_fut = std::pin::pin!(read_bounded(child.stdout.take()));
    let mut err_fut = std::pin::pin!(read_bounded(child.stderr.take()));
    let (mut out, mut err) = (None, None);
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    let ended = loop {
        tokio::select! {
            s = child.wait() => break Ended::Exited(s),
            o = &mut out_fut, if out.is_none() => out = Some(o),
            e = &mut err_fut, if err.is_none() => err = Some(e),
            () = &mut deadline => break Ended::TimedOut,
            () = stop.cancelled() => break Ended::Stopped,
        }
    };
    let mut lines = Vec::new();
    match ended {
        Ended::Exited(s) => {
            group.reaped();
            match s {
                Ok(st) if st.success() => {}
                Ok(st) => lines.push(format!("Error: {what}: {}", describe_status(st))),
                Err(e) => lines.push(format!("Error: {what}: {e}")),
            }
        }
        Ended::TimedOut | Ended::Stopped => {
            // The shell is not reaped yet: the group's id is still ours.
            group.kill();
            let _ = child.wait().await;
            group.reaped();
            lines.push(match ended {
                Ended::TimedOut => format!(
                    "Error: {what}: killed with its process group after {}s",
                    timeout.as_secs_f64()
                ),
                _ => format!("{what}: killed with its process group (the director is stopping)"),
            });
        }
    }
    let grace = tokio::time::Instant::now() + OUTPUT_GRACE;
    if out.is_none() {
        out = tokio::time::timeout_at(grace, &mut out_fut).await.ok();
    }
    if err.is_none() {
        err = tokio::time::timeout_at(grace, &mut err_fut).await.ok();
    }
    for (name, o) in [("standard output", out), ("standard error", err)] {
        if let Some(line) = o.and_then(|o| describe_output(&o)) {
            lines.push(format!("{what}: {name}: {line}"));
        }
    }
    if !lines.is_empty() {
        notes.lock().unwrap().extend(lines);
    }
}

fn describe_status(st: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (st.code(), st.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        _ => st.to_string(),
    }
}

/// What a stream printed, read to its end.
#[derive(Debug, Default)]
struct Output {
    /// The first [`KEEP`] bytes.
    kept: Vec<u8>,
    /// Bytes in all.
    total: u64,
}

/// The first non-empty line (at most 200 characters), and how much there
/// was in all when that is more; `None` when nothing was printed.
fn describe_output(o: &Output) -> Option<String> {
    let text = String::from_utf8_lossy(&o.kept);
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    let mut shown: String = line.chars().take(200).collect();
    if shown.len() < line.len() {
        shown.push_str("...");
    }
    if o.total > line.len() as u64 + 1 {
        shown.push_str(&format!(" ({} bytes in all)", o.total));
    }
    Some(shown)
}

/// Read to EOF, keeping the first [`KEEP`] bytes.
async fn read_bounded(pipe: Option<impl AsyncRead + Unpin>) -> Output {
    let mut o = Output::default();
    let Some(mut pipe) = pipe else {
        return o;
    };
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        match pipe.read(&mut chunk).await {
            Ok(0) | Err(_) => return o,
            Ok(n) => {
                o.total += n as u64;
                let room = KEEP - o.kept.len();
                o.kept.extend_from_slice(&chunk[..n.min(room)]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Whether process `pid` still runs (a zombie counts as gone).
    fn alive(pid: i32) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(s) => !s
                .rsplit_once(") ")
                .is_some_and(|(_, rest)| rest.starts_with('Z') || rest.starts_with('X')),
            Err(_) => false,
        }
    }

    fn pids_in(p: &Path) -> Vec<i32> {
        std::fs::read_to_string(p)
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect()
    }

    async fn wait_notes(notes: &Notes, n: usize) -> Vec<String> {
        for _ in 0..200 {
            let v = notes.lock().unwrap().clone();
            if v.len() >= n {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("notes: {:?}", notes.lock().unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_hook_that_outlives_its_timeout_is_killed_with_its_children() {
        let dir = tempfile::tempdir().unwrap();
        let pids = dir.path().join("pids");
        let notes = Notes::default();
        let c = Children::new(notes.clone());
        // A background child and a foreground one, both far longer than the
        // timeout.
        let cmd = format!(
            "sleep 1000 & echo $! >> {p}; sh -c 'echo $$ >> {p}; exec sleep 1000'",
            p = pids.display()
        );
        c.run_for("fallbackcommand", &cmd, &["start"], Duration::from_secs(1));
        let lines = wait_notes(&notes, 1).await;
        assert!(
            lines[0].starts_with("Error: fallbackcommand \"")
                && lines[0].ends_with("killed with its process group after 1s"),
            "{lines:?}"
        );
        let ps = pids_in(&pids);
        assert_eq!(ps.len(), 2, "{ps:?}");
        for _ in 0..100 {
            if ps.iter().all(|&p| !alive(p)) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for p in ps {
            assert!(!alive(p), "process {p} outlived the hook's timeout");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_hook_still_running_when_the_director_stops_is_killed() {
        let dir = tempfile::tempdir().unwrap();
        let pids = dir.path().join("pids");
        let notes = Notes::default();
        let c = Children::new(notes.clone());
        let cmd = format!("sleep 1000 & echo $! >> {p}; wait; :", p = pids.display());
        c.run("callback", &cmd, &["/etc/x.cf"]);
        for _ in 0..200 {
            if !pids_in(&pids).is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        c.stop();
        let lines = wait_notes(&notes, 1).await;
        assert!(lines[0].contains("(the director is stopping)"), "{lines:?}");
        let ps = pids_in(&pids);
        assert_eq!(ps.len(), 1);
        assert!(!alive(ps[0]));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hook_output_is_bounded_and_logged_with_the_status() {
        let notes = Notes::default();
        let c = Children::new(notes.clone());
        c.run(
            "fallbackcommand",
            "printf 'first\\nsecond\\n'; head -c 1000000 /dev/zero; echo oops >&2; exit 3; :",
            &["stop"],
        );
        let lines = wait_notes(&notes, 3).await;
        assert!(lines[0].ends_with(": exit status 3"), "{lines:?}");
        assert!(
            lines[1].ends_with(": standard output: first (1000013 bytes in all)"),
            "{lines:?}"
        );
        assert!(lines[2].ends_with(": standard error: oops"), "{lines:?}");
        // Quiet success: nothing to say.
        c.run("callback", "true", &[]);
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(notes.lock().unwrap().len(), 3);
    }
}
