//! Mail through the local MTA: `sendmail -t -oi`, when `smtp=` is not set.

use std::path::{Path, PathBuf};

/// The sendmail to pipe mails to: the first `sendmail` on `path` (a
/// `PATH`-style list), else `/usr/sbin/sendmail`, else `/usr/lib/sendmail`.
pub fn find_sendmail(path: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    let on_path = path
        .map(|p| std::env::split_paths(p).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path
        .into_iter()
        .map(|d| d.join("sendmail"))
        .chain(["/usr/sbin/sendmail", "/usr/lib/sendmail"].map(PathBuf::from))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Pipe `message` to `sendmail -t -oi` (recipients from the headers, a lone
/// `.` line is not the end). The caller bounds the time; sendmail runs in a
/// process group of its own, killed as a whole when the future is dropped.
pub async fn sendmail(message: &str) -> Result<(), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let path = std::env::var_os("PATH");
    let Some(bin) = find_sendmail(path.as_deref()) else {
        return Err(
            "no sendmail found (on PATH, /usr/sbin, /usr/lib); install an MTA or set smtp=".into(),
        );
    };
    let mut child = tokio::process::Command::new(&bin)
        .args(["-t", "-oi"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    // sendmail and whatever it started are killed together if this future
    // is dropped (the caller's timeout, the director stopping) before it
    // was reaped.
    let mut group = crate::sys::Group::led_by(child.id());
    let mut stdin = child.stdin.take();
    let mut stderr = child.stderr.take();
    let write = async {
        if let Some(mut s) = stdin.take() {
            s.write_all(message.as_bytes()).await?;
            s.shutdown().await?;
        }
        Ok::<(), std::io::Error>(())
    };
    // All of standard error is read (a full pipe must not stall sendmail),
    // the first 4 KiB kept.
    let read = async {
        let mut buf = Vec::new();
        if let Some(e) = stderr.as_mut() {
            let mut chunk = [0u8; 4096];
            while let Ok(n @ 1..) = e.read(&mut chunk).await {
                let room = 4096 - buf.len();
                buf.extend_from_slice(&chunk[..n.min(room)]);
            }
        }
        buf
    };
    let (written, err) = tokio::join!(write, read);
    let status = child
        .wait()
        .await
        .map_err(|e| format!("{}: {e}", bin.display()))?;
    group.reaped();
    let first = String::from_utf8_lossy(&err)
        .lines()
        .find(|l| !l.trim().is_empty())
        .map(|l| format!(": {}", l.trim()))
        .unwrap_or_default();
    if !status.success() {
        return Err(format!("{} -t -oi: {status}{first}", bin.display()));
    }
    written.map_err(|e| format!("{}: cannot write the message: {e}", bin.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sendmail_is_found_on_path_first() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("sendmail");
        std::fs::write(&fake, "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = std::env::join_paths([Path::new("/nonexistent"), dir.path()]).unwrap();
        assert_eq!(find_sendmail(Some(&path)), Some(fake.clone()));
        // Not executable: skipped.
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_ne!(find_sendmail(Some(&path)), Some(fake));
    }
}
