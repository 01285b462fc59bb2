//! Every libc call of the main crate, each behind a small safe wrapper.
//!
//! `unsafe_code` is denied everywhere else in the crate (see `lib.rs`); this
//! module alone is allowed it, so each `unsafe` block sits here with the
//! reason it is sound next to it.

use std::ffi::{CStr, CString};

/// This host's name (`gethostname(2)`); `None` when it cannot be read or is
/// empty or not UTF-8.
pub fn hostname() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates
    // unless truncated, and the last byte stays 0.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len() - 1) } == 0;
    let end = buf.iter().position(|&b| b == 0).unwrap_or(0);
    match std::str::from_utf8(&buf[..end]) {
        Ok(s) if ok && !s.is_empty() => Some(s.to_string()),
        _ => None,
    }
}

/// The real user id of this process (`getuid(2)`, Perl's `$<`).
pub fn real_uid() -> u32 {
    // SAFETY: getuid takes no arguments and cannot fail.
    unsafe { libc::getuid() }
}

/// The login name of user `uid` (`getpwuid_r(3)`); `None` when the user is
/// unknown or the name is empty or not UTF-8.
pub fn user_name(uid: u32) -> Option<String> {
    // SAFETY: getpwuid_r with a valid passwd struct and a buffer of the given
    // length; the returned name points into `buf`, read before it goes.
    unsafe {
        let mut pw: libc::passwd = std::mem::zeroed();
        let mut buf = vec![0 as libc::c_char; 4096];
        let mut out: *mut libc::passwd = std::ptr::null_mut();
        if libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr(), buf.len(), &mut out) == 0
            && !out.is_null()
            && !pw.pw_name.is_null()
        {
            if let Ok(s) = CStr::from_ptr(pw.pw_name).to_str() {
                if !s.is_empty() {
                    return Some(s.to_string());
                }
            }
        }
    }
    None
}

/// Raise the soft open-files limit (`RLIMIT_NOFILE`) to the hard one
/// (`getrlimit(2)`, `setrlimit(2)`): thousands of checks in flight need
/// thousands of sockets, and running out would show healthy reals as down.
/// Returns the soft limit now in force (0 when it cannot be read).
pub fn raise_nofile_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local rlimit.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 0;
        }
        if lim.rlim_cur < lim.rlim_max {
            let want = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &want) == 0 {
                return want.rlim_cur;
            }
        }
    }
    lim.rlim_cur
}

/// The signals that reload or stop the daemon (SIGHUP, SIGTERM, SIGINT).
fn stop_signals() -> libc::sigset_t {
    // SAFETY: sigemptyset/sigaddset on a local set, with valid signal numbers.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGHUP);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        set
    }
}

/// Hold SIGHUP, SIGTERM and SIGINT (`pthread_sigmask(2)`, SIG_BLOCK) in the
/// calling thread and in every thread it starts from now on: one that comes
/// stays pending instead of killing the process by its default action. The
/// first thing `main` does, so that a SIGHUP during a long start is not an
/// exit; [`unblock_stop_signals`] lets them in once their handlers are
/// installed (children started by `std::process::Command` get an empty mask
/// anyway).
pub fn block_stop_signals() {
    let set = stop_signals();
    // SAFETY: a valid set; the old mask is not wanted.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
}

/// Let SIGHUP, SIGTERM and SIGINT in again in the calling thread (one held
/// meanwhile is delivered now, to whatever handler is installed).
pub fn unblock_stop_signals() {
    let set = stop_signals();
    // SAFETY: a valid set; the old mask is not wanted.
    unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) };
}

/// Connect to syslog (`openlog(3)`) as `ldirectord-rs`, with the pid, under
/// `facility` (`daemon`, `local0`, ...; unknown names: `daemon`).
pub fn open_syslog(facility: &str) {
    static IDENT: &CStr = c"ldirectord-rs";
    let fac = syslog_facility(facility);
    // SAFETY: IDENT is a static NUL-terminated string, as openlog requires
    // (it keeps the pointer).
    unsafe { libc::openlog(IDENT.as_ptr(), libc::LOG_PID, fac) };
}

/// Send `msg` to syslog at priority `info` (`syslog(3)`); NUL bytes in it
/// become spaces.
pub fn syslog_info(msg: &str) {
    let c = CString::new(msg.replace('\0', " ")).unwrap_or_default();
    // SAFETY: "%s" with one valid C string argument.
    unsafe { libc::syslog(libc::LOG_INFO, c"%s".as_ptr(), c.as_ptr()) };
}

/// The syslog facility named `name` (`LOG_DAEMON` when unknown).
fn syslog_facility(name: &str) -> libc::c_int {
    use libc::*;
    match name {
        "auth" => LOG_AUTH,
        "authpriv" => LOG_AUTHPRIV,
        "cron" => LOG_CRON,
        "daemon" => LOG_DAEMON,
        "kern" => LOG_KERN,
        "lpr" => LOG_LPR,
        "mail" => LOG_MAIL,
        "news" => LOG_NEWS,
        "syslog" => LOG_SYSLOG,
        "user" => LOG_USER,
        "uucp" => LOG_UUCP,
        "local0" => LOG_LOCAL0,
        "local1" => LOG_LOCAL1,
        "local2" => LOG_LOCAL2,
        "local3" => LOG_LOCAL3,
        "local4" => LOG_LOCAL4,
        "local5" => LOG_LOCAL5,
        "local6" => LOG_LOCAL6,
        "local7" => LOG_LOCAL7,
        _ => LOG_DAEMON,
    }
}

/// SIGKILL process group `pgid` (a positive id; anything else is ignored).
///
/// The caller must still hold the group leader unreaped (a child not yet
/// waited for), so that the id cannot have been reused by another group.
pub fn kill_process_group(pgid: u32) {
    if let Ok(pid) = libc::pid_t::try_from(pgid) {
        if pid > 0 {
            // SAFETY: kill(2) takes no pointers; a negative pid signals that
            // process group. Its errors (ESRCH: already gone) need no
            // handling here.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
    }
}

/// The process group of a child started with `process_group(0)` (its id is
/// the child's): SIGKILLed when this is dropped, unless [`Group::reaped`]
/// said the leader was waited for (its id may then be reused).
#[derive(Debug)]
pub struct Group(Option<u32>);

impl Group {
    /// The group led by the child `pid` (`None`: nothing to kill).
    pub fn led_by(pid: Option<u32>) -> Group {
        Group(pid)
    }

    /// Kill the whole group now (the leader is still unreaped).
    pub fn kill(&self) {
        if let Some(pgid) = self.0 {
            kill_process_group(pgid);
        }
    }

    /// The leader was reaped: the id is no longer ours to signal.
    pub fn reaped(&mut self) {
        self.0 = None;
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The two sides of a [`fork`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forked {
    /// In the parent: the child's pid.
    Parent(u32),
    /// In the child.
    Child,
}

/// How many threads this process has (`Threads:` of `/proc/self/status`);
/// `None` when it cannot be read.
pub fn thread_count() -> Option<usize> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
}

/// `fork(2)`, refused (an error, no fork) unless this process has exactly
/// one thread: a child forked from a multi-threaded process may only call
/// async-signal-safe functions, and the daemon runs a whole runtime after it.
pub fn fork() -> std::io::Result<Forked> {
    match thread_count() {
        Some(1) => {}
        n => {
            return Err(std::io::Error::other(format!(
                "refusing to fork a process with {} threads",
                n.map_or_else(|| "an unknown number of".to_string(), |n| n.to_string())
            )))
        }
    }
    // SAFETY: the process is single-threaded (checked just above), so the
    // child is a complete copy and may run any code.
    match unsafe { libc::fork() } {
        -1 => Err(std::io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid as u32)),
    }
}

/// `setsid(2)`: a new session, with no controlling terminal.
pub fn setsid() -> std::io::Result<()> {
    // SAFETY: setsid takes no arguments; failure is reported by -1.
    if unsafe { libc::setsid() } == -1 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// End this process at once with `code` (`_exit(2)`): no atexit handlers, no
/// flushing of buffers the parent also holds (the first child of a double
/// fork).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and touches no memory of ours.
    unsafe { libc::_exit(code) }
}

/// Wait for the child `pid` to end (`waitpid(2)`); its exit code (128 + the
/// signal when killed).
pub fn wait_child(pid: u32) -> std::io::Result<i32> {
    let mut status: libc::c_int = 0;
    loop {
        // SAFETY: waitpid with a valid pointer to a local int.
        let r = unsafe { libc::waitpid(pid as libc::pid_t, &mut status, 0) };
        if r == -1 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        break;
    }
    Ok(if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    })
}

/// A pipe (`pipe2(2)`) whose two ends are closed on `exec`: (read, write).
pub fn pipe() -> std::io::Result<(std::fs::File, std::fs::File)> {
    use std::os::fd::FromRawFd;
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe2 with a valid pointer to two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } == -1 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just opened by pipe2 and are owned by
    // nothing else.
    Ok(unsafe {
        (
            std::fs::File::from_raw_fd(fds[0]),
            std::fs::File::from_raw_fd(fds[1]),
        )
    })
}

/// Point standard input, output or error (`fd` 0, 1, 2) at `/dev/null`
/// (`dup2(2)`), closing what it was: a daemon lets go of its caller's
/// terminal or pipe this way.
pub fn stdio_to_dev_null(fd: i32) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    if !(0..=2).contains(&fd) {
        return Err(std::io::Error::from(std::io::ErrorKind::InvalidInput));
    }
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    // SAFETY: dup2 of a descriptor we own onto 0, 1 or 2; the standard
    // streams stay valid (they now name /dev/null).
    if unsafe { libc::dup2(null.as_raw_fd(), fd) } == -1 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// The signals the command line sends to a running daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGTERM: stop.
    Term,
    /// SIGHUP: reload.
    Hup,
    /// SIGKILL.
    Kill,
}

/// Send `sig` to process `pid` (`kill(2)`).
pub fn kill(pid: u32, sig: Signal) -> std::io::Result<()> {
    let s = match sig {
        Signal::Term => libc::SIGTERM,
        Signal::Hup => libc::SIGHUP,
        Signal::Kill => libc::SIGKILL,
    };
    let pid = libc::pid_t::try_from(pid)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // SAFETY: kill with a positive pid (never 0 or -1, which would signal a
    // whole group or every process) and a valid signal number.
    if unsafe { libc::kill(pid, s) } == -1 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// At most two malloc arenas (glibc makes up to eight per CPU, one per
/// thread that contends): the director's threads allocate little per
/// check, and each extra arena keeps its own free pages (~1 MiB at 10,000
/// reals). No-op on other C libraries. Call before other threads start.
pub fn limit_malloc_arenas() {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only sets an allocator parameter.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Give the heap's free pages back to the system (`malloc_trim(0)`, glibc):
/// after a burst (the first round of 10,000 checks, a reload) the memory
/// freed stays mapped otherwise, and RSS keeps the burst's size. No-op on
/// other C libraries.
pub fn release_free_memory() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_user_and_nofile_are_known() {
        assert!(hostname().is_some());
        let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        if passwd.starts_with("root:") || passwd.contains("\nroot:") {
            assert_eq!(user_name(0).as_deref(), Some("root"));
        }
        assert!(raise_nofile_limit() > 0);
    }

    #[test]
    fn a_held_signal_waits_until_let_in() {
        // In a thread of its own (the mask is per thread): SIGHUP to this
        // thread alone, held, then let in to a handler that counts it.
        use std::sync::atomic::{AtomicUsize, Ordering};
        static GOT: AtomicUsize = AtomicUsize::new(0);
        extern "C" fn on_usr(_: libc::c_int) {
            GOT.fetch_add(1, Ordering::SeqCst);
        }
        std::thread::spawn(|| {
            block_stop_signals();
            // SAFETY: installing a handler that only touches an atomic, and
            // signalling this very thread.
            unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = on_usr as extern "C" fn(libc::c_int) as usize;
                libc::sigaction(libc::SIGHUP, &sa, std::ptr::null_mut());
                libc::pthread_kill(libc::pthread_self(), libc::SIGHUP);
            }
            assert_eq!(GOT.load(Ordering::SeqCst), 0, "held while blocked");
            unblock_stop_signals();
            assert_eq!(GOT.load(Ordering::SeqCst), 1, "delivered once let in");
        })
        .join()
        .unwrap();
    }

    #[test]
    fn facilities_by_name() {
        assert_eq!(syslog_facility("local3"), libc::LOG_LOCAL3);
        assert_eq!(syslog_facility("mail"), libc::LOG_MAIL);
        assert_eq!(syslog_facility("nonsense"), libc::LOG_DAEMON);
    }

    #[test]
    fn kill_refuses_group_pids() {
        assert!(kill(0, Signal::Term).is_err());
        assert!(kill(u32::MAX, Signal::Term).is_err());
    }

    #[test]
    fn pipe_carries_bytes_and_dev_null_is_only_for_stdio() {
        use std::io::{Read, Write};
        let (mut r, mut w) = pipe().unwrap();
        w.write_all(b"x").unwrap();
        drop(w);
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert_eq!(s, "x");
        assert!(stdio_to_dev_null(7).is_err());
    }

    #[test]
    fn fork_is_refused_with_threads() {
        // The test harness runs tests on threads of their own.
        let _t = std::thread::spawn(|| std::thread::sleep(std::time::Duration::from_millis(200)));
        assert!(thread_count().unwrap() > 1);
        assert!(fork().is_err());
    }
}
