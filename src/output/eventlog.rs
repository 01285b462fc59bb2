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
//!
//! Log and monitor files are opened so that nothing can block or mislead
//! the director ([`open_append`]): without waiting (a FIFO cannot hang the
//! open), only if the path is a regular file (not a FIFO or a device), not
//! through a symbolic link, created with mode 0640 (the umask may take more
//! away, never add). A line that cannot be written (the file cannot be
//! reopened, the disk is full) goes whole to standard error, with the path
//! and the reason; the reopen is tried again on later lines (at most ten
//! times a second) and at once on SIGHUP. No event is lost silently.
use crate::output::console::errln;

use crate::config::LogTarget;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The mode of a log or monitor file the director creates.
pub const FILE_MODE: u32 = 0o640;

/// How often a file that cannot be opened is tried again (SIGHUP: at
/// once): before a line, if this long has passed since the last try (a
/// monitorfile gets a line per check result; one open each is too many).
const RETRY: Duration = Duration::from_millis(100);

/// Open `path` for appending, creating it with mode [`FILE_MODE`], as a log
/// or monitor file: never blocking (`O_NONBLOCK`: a FIFO without a reader
/// fails at once instead of hanging), never through a symbolic link
/// (`O_NOFOLLOW`), and only if it is a regular file (`/dev/null` also
/// accepted). Errors name the path.
pub fn open_append(path: &Path) -> std::io::Result<File> {
    let named = |e: std::io::Error| {
        let why = match e.raw_os_error() {
            Some(libc::ELOOP) => {
                "is a symbolic link, which is not followed (name the file itself)".to_string()
            }
            // A FIFO without a reader (or a socket): refused at once.
            Some(libc::ENXIO) => match std::fs::symlink_metadata(path) {
                Ok(m) => format!("is {}, not a regular file; refused", kind(m.file_type())),
                Err(_) => e.to_string(),
            },
            _ => e.to_string(),
        };
        std::io::Error::new(e.kind(), format!("{}: {why}", path.display()))
    };
    let f = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(FILE_MODE)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(named)?;
    let t = f.metadata().map_err(named)?.file_type();
    if t.is_file() || (t.is_char_device() && path == Path::new("/dev/null")) {
        return Ok(f);
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!(
            "{}: is {}, not a regular file; refused",
            path.display(),
            kind(t)
        ),
    ))
}

/// `a FIFO`, `a device`...: what a path that is not a regular file is.
fn kind(t: std::fs::FileType) -> &'static str {
    if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_symlink() {
        "a symbolic link"
    } else {
        "not a file"
    }
}

/// Where lines go.
enum Sink {
    Stderr,
    Stdout,
    File(LogFile),
    Syslog,
    /// Collected in memory (tests, the demo's own printing).
    Memory(Arc<Mutex<Vec<String>>>),
}

/// A log or monitor file, reopened when it is renamed away or could not be
/// written.
struct LogFile {
    /// `log file`, `monitorfile`: how stderr lines name it.
    what: &'static str,
    path: PathBuf,
    file: Option<File>,
    ino: u64,
    dev: u64,
    /// Why the file is not open, while it is not.
    error: Option<String>,
    /// Lines sent to standard error since.
    missed: u64,
    /// When the next automatic reopen may be tried.
    retry_at: Option<Instant>,
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
                let mut f = LogFile::new("log file", path);
                f.reopen()?;
                Sink::File(f)
            }
            Some(LogTarget::Syslog(facility)) => {
                crate::sys::open_syslog(facility);
                Sink::Syslog
            }
        };
        Ok(EventLog { sink })
    }

    /// A monitorfile: opened now if it can be, else its lines go to
    /// standard error (with the path and the reason) until it can. The
    /// error, if any, is returned beside it, to be logged once.
    pub fn monitor(path: &Path) -> (EventLog, Option<std::io::Error>) {
        let mut f = LogFile::new("monitorfile", path);
        let err = f.reopen().err();
        if let Some(e) = &err {
            f.failed(e.to_string());
        }
        (
            EventLog {
                sink: Sink::File(f),
            },
            err,
        )
    }

    /// Reopen a log file now (SIGHUP, or after logrotate renamed it).
    /// Whether lines go to standard error.
    pub fn is_stderr(&self) -> bool {
        matches!(self.sink, Sink::Stderr)
    }

    /// Reopen a log file (after logrotate renamed it).
    pub fn reopen(&mut self) {
        if let Sink::File(f) = &mut self.sink {
            if let Err(e) = f.reopen() {
                errln!("ldirectord-rs: cannot reopen {} {e}", f.what);
                f.failed(e.to_string());
            }
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
            Sink::File(f) => f.write_line(&line),
        }
    }
}

impl LogFile {
    fn new(what: &'static str, path: &Path) -> LogFile {
        LogFile {
            what,
            path: path.to_path_buf(),
            file: None,
            ino: 0,
            dev: 0,
            error: None,
            missed: 0,
            retry_at: None,
        }
    }

    /// (Re)open the path; on success, say in the file what was missed.
    fn reopen(&mut self) -> std::io::Result<()> {
        let f = open_append(&self.path)?;
        let m = f.metadata()?;
        self.ino = m.ino();
        self.dev = m.dev();
        self.file = Some(f);
        self.retry_at = None;
        if let Some(why) = self.error.take() {
            let note = format!(
                "{} {} {} reopened; {} line(s) went to standard error meanwhile ({why})\n",
                timestamp(),
                capitalised(self.what),
                self.path.display(),
                self.missed
            );
            self.missed = 0;
            self.write_raw(&note);
        }
        Ok(())
    }

    /// The file cannot be used: lines go to standard error until a reopen
    /// works.
    fn failed(&mut self, why: String) {
        self.file = None;
        self.error = Some(why);
        self.retry_at = Some(Instant::now() + RETRY);
    }

    /// Has the path been renamed away or replaced since we opened it? (Not
    /// following a symbolic link put in its place.)
    fn moved(&self) -> bool {
        match std::fs::symlink_metadata(&self.path) {
            Ok(m) => m.ino() != self.ino || m.dev() != self.dev,
            Err(_) => true,
        }
    }

    fn write_line(&mut self, line: &str) {
        let due = self.retry_at.is_none_or(|t| Instant::now() >= t);
        if due && (self.file.is_none() || self.moved()) {
            if let Err(e) = self.reopen() {
                self.failed(e.to_string());
            }
        }
        self.write_raw(line);
    }

    /// One write(2) of the whole line on the O_APPEND file, or the line to
    /// standard error with the path and the reason.
    fn write_raw(&mut self, line: &str) {
        let why = match &mut self.file {
            Some(f) => match f.write_all(line.as_bytes()) {
                Ok(()) => return,
                Err(e) => format!("{}: {e}", self.path.display()),
            },
            None => self.error.clone().unwrap_or_default(),
        };
        self.missed += 1;
        // `why` names the path: "/var/log/ld.log: No such file or directory".
        let _ = write!(
            std::io::stderr(),
            "ldirectord-rs: cannot write to {} {why}: {line}",
            self.what
        );
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
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
