//! The event log operators tail: one line per event, ldirectord's phrases
//! verbatim, an ISO-8601 UTC timestamp in front.
//!
//! ```text
//! 2026-11-22T02:10:00.123456Z Deleted real server: 10.0.0.2:80 (10.0.0.100:80) reason: HTTP 503
//! ```
//!
//! Each line is written with a single `write(2)` on a file opened `O_APPEND`,
//! so a line is never split and `copytruncate` works. Before each line the
//! path is checked: if logrotate renamed the file away (a different inode, or
//! none), it is reopened, so no SIGHUP is even needed; [`EventLog::reopen`]
//! does it at once on SIGHUP too.

use crate::config::LogTarget;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Where lines go.
enum Sink {
    Stderr,
    Stdout,
    File {
        path: PathBuf,
        file: Option<File>,
        ino: u64,
        dev: u64,
    },
    Syslog,
    /// Collected in memory (tests, the demo's own printing).
    Memory(Arc<Mutex<Vec<String>>>),
}

/// The event log, owned by the director task.
pub struct EventLog {
    sink: Sink,
}

impl EventLog {
    pub fn stderr() -> EventLog {
        EventLog { sink: Sink::Stderr }
    }

    pub fn stdout() -> EventLog {
        EventLog { sink: Sink::Stdout }
    }

    pub fn memory() -> (EventLog, Arc<Mutex<Vec<String>>>) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        (
            EventLog {
                sink: Sink::Memory(lines.clone()),
            },
            lines,
        )
    }

    /// Open the configured target (`None`: standard error).
    pub fn open(target: Option<&LogTarget>) -> std::io::Result<EventLog> {
        let sink = match target {
            None => Sink::Stderr,
            Some(LogTarget::File(path)) => {
                let mut s = Sink::File {
                    path: path.clone(),
                    file: None,
                    ino: 0,
                    dev: 0,
                };
                reopen_file(&mut s)?;
                s
            }
            Some(LogTarget::Syslog(facility)) => {
                crate::sys::open_syslog(facility);
                Sink::Syslog
            }
        };
        Ok(EventLog { sink })
    }

    /// Reopen a log file (after logrotate renamed it).
    pub fn reopen(&mut self) {
        if let Err(e) = reopen_file(&mut self.sink) {
            eprintln!("ldirectord-rs: cannot reopen log file: {e}");
        }
    }

    /// Write one event line.
    pub fn log(&mut self, msg: &str) {
        let line = format!("{} {}\n", timestamp(), msg);
        match &mut self.sink {
            Sink::Stderr => {
                let _ = std::io::stderr().write_all(line.as_bytes());
            }
            Sink::Stdout => {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(line.as_bytes());
                let _ = out.flush();
            }
            Sink::Memory(v) => v.lock().unwrap().push(line.trim_end().to_string()),
            Sink::Syslog => crate::sys::syslog_info(msg),
            Sink::File { .. } => {
                if rotated(&self.sink) {
                    self.reopen();
                }
                if let Sink::File {
                    file: Some(f),
                    path,
                    ..
                } = &mut self.sink
                {
                    // One write(2) of the whole line on an O_APPEND file.
                    if let Err(e) = f.write_all(line.as_bytes()) {
                        eprintln!(
                            "ldirectord-rs: cannot write {}: {e}: {}",
                            path.display(),
                            line.trim_end()
                        );
                    }
                } else {
                    eprint!("{line}");
                }
            }
        }
    }
}

fn reopen_file(sink: &mut Sink) -> std::io::Result<()> {
    if let Sink::File {
        path,
        file,
        ino,
        dev,
    } = sink
    {
        let f = OpenOptions::new().create(true).append(true).open(&*path)?;
        let m = f.metadata()?;
        *ino = m.ino();
        *dev = m.dev();
        *file = Some(f);
    }
    Ok(())
}

/// Has the path been renamed away or replaced since we opened it?
fn rotated(sink: &Sink) -> bool {
    match sink {
        Sink::File {
            path,
            ino,
            dev,
            file,
        } => {
            file.is_none()
                || match std::fs::metadata(path) {
                    Ok(m) => m.ino() != *ino || m.dev() != *dev,
                    Err(_) => true,
                }
        }
        _ => false,
    }
}

/// `2026-11-22T02:10:00.123456Z`, now.
pub fn timestamp() -> String {
    format_time(std::time::SystemTime::now())
}

/// `2026-11-22T02:10:00.123456Z`.
pub fn format_time(t: std::time::SystemTime) -> String {
    let now = time::OffsetDateTime::from(t);
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
    );
    now.format(&fmt).unwrap_or_default()
}
