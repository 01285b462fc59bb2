//! Every `unsafe` call of the checks crate, each behind a small safe
//! function whose comment says why it is sound. The rest of the crate
//! denies `unsafe_code`.

#![allow(unsafe_code)]

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::AsRawFd;

use socket2::{SockAddr, Socket};
use tokio::io::unix::AsyncFd;

/// `ICMP6_FILTER` from <netinet/icmp6.h> (level `IPPROTO_ICMPV6`).
const ICMP6_FILTER: libc::c_int = 1;

/// Register `sock` with tokio's reactor (must run inside a runtime).
pub(crate) fn register(sock: Socket) -> io::Result<AsyncFd<Socket>> {
    // SAFETY: a socket2::Socket owns its descriptor: it stays open and is
    // the same one for as long as the AsyncFd holds the Socket.
    Ok(unsafe { AsyncFd::register(sock) }?)
}

/// recvfrom(2) into a plain byte buffer: the number of bytes received
/// (at most `buf.len()`; a longer datagram is truncated) and the sender.
pub(crate) fn recv_from(sock: &Socket, buf: &mut [u8]) -> io::Result<(usize, SockAddr)> {
    // SAFETY: `[u8]` and `[MaybeUninit<u8>]` have the same layout, and
    // socket2 promises that recv_from never writes uninitialised bytes into
    // the buffer (it hands it straight to recvfrom(2)), so it may be called
    // with a `&mut [u8]` and `buf` stays initialised.
    let uninit: &mut [MaybeUninit<u8>] =
        unsafe { &mut *(std::ptr::from_mut::<[u8]>(buf) as *mut [MaybeUninit<u8>]) };
    let (n, from) = sock.recv_from(uninit)?;
    Ok((n.min(buf.len()), from))
}

/// setsockopt(`IPPROTO_ICMPV6`, `ICMP6_FILTER`) on a raw ICMPv6 socket:
/// `blocked` is `struct icmp6_filter`, a set bit blocks that ICMPv6 type.
pub(crate) fn set_icmp6_filter(sock: &Socket, blocked: &[u32; 8]) -> io::Result<()> {
    // SAFETY: a valid socket and a pointer to 32 bytes that outlive the
    // call, which is struct icmp6_filter's layout.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_ICMPV6,
            ICMP6_FILTER,
            blocked.as_ptr().cast(),
            std::mem::size_of_val(blocked) as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// SIGKILL process group `pgid` (a positive id; anything else is ignored).
///
/// The caller must still hold the group leader unreaped (a child not yet
/// waited for), so that the id cannot have been reused by another group.
pub(crate) fn kill_process_group(pgid: u32) {
    if let Ok(pid) = libc::pid_t::try_from(pgid) {
        if pid > 0 {
            // SAFETY: kill(2) takes no pointers; a negative pid signals that
            // process group. Its errors (e.g. ESRCH, already gone) need no
            // handling here.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
    }
}

/// Wait until our child `pid` has exited, without reaping it: it stays a
/// zombie, so its id (and its process group's id) cannot be reused until
/// the caller reaps it. That makes it safe to kill what is left of its
/// process group first (an external check's background children).
///
/// A pidfd (Linux 5.3+) becomes readable at the exit; on older kernels the
/// child is polled with `waitid(WNOWAIT)`, at most every 50 ms.
pub(crate) async fn exited(pid: u32) -> io::Result<()> {
    use std::os::fd::{FromRawFd, OwnedFd};
    let p = libc::pid_t::try_from(pid).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: pidfd_open(2) takes a pid and flags, no pointers; it returns a
    // new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, p, libc::PIDFD_NONBLOCK) };
    if fd >= 0 {
        // SAFETY: `fd` was just returned by pidfd_open: a valid descriptor
        // that nothing else owns.
        let owned = unsafe { OwnedFd::from_raw_fd(fd as std::os::fd::RawFd) };
        // SAFETY: an OwnedFd owns its descriptor: it stays open and is the
        // same one for as long as the AsyncFd holds it.
        let afd = unsafe { AsyncFd::register_with_interest(owned, tokio::io::Interest::READABLE) }?;
        let _ready = afd.readable().await?;
        return Ok(());
    }
    let mut delay = std::time::Duration::from_millis(1);
    loop {
        if exited_now(p)? {
            return Ok(());
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(std::time::Duration::from_millis(50));
    }
}

/// Whether our child `pid` has exited, leaving it waitable (`WNOWAIT`).
fn exited_now(pid: libc::pid_t) -> io::Result<bool> {
    // SAFETY: a zeroed siginfo_t is a valid value to pass; waitid(2) writes
    // into it and takes no other pointer. WNOWAIT leaves the child waitable.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let rc = unsafe {
        libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: waitid filled `info` (si_pid is 0 when nothing has exited).
    Ok(unsafe { info.si_pid() } != 0)
}
