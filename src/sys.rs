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

/// What [`signal_process`] sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGHUP: reload.
    Hangup,
    /// SIGTERM: stop.
    Terminate,
}

/// Send `sig` to process `pid` (`kill(2)`). The caller makes sure `pid` is
/// its own child not yet reaped, so the id cannot name another process.
pub fn signal_process(pid: u32, sig: Signal) -> std::io::Result<()> {
    let pid = libc::pid_t::try_from(pid)
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    if pid <= 0 {
        return Err(std::io::ErrorKind::InvalidInput.into());
    }
    let sig = match sig {
        Signal::Hangup => libc::SIGHUP,
        Signal::Terminate => libc::SIGTERM,
    };
    // SAFETY: kill has no memory arguments; pid > 0 names one process.
    if unsafe { libc::kill(pid, sig) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
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
}
