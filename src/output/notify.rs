//! systemd readiness notification (`Type=notify`), without a dependency:
//! one datagram to `$NOTIFY_SOCKET`. Does nothing when not under systemd.

use crate::output::console::errln;
use std::os::unix::net::UnixDatagram;

/// Send `READY=1` once the director serves.
pub fn ready() {
    send("READY=1");
}

/// Tell systemd's watchdog the director loop is alive (when `WatchdogSec=`
/// is set; called once a second from the loop itself, so a frozen loop is
/// restarted).
pub fn watchdog() {
    if std::env::var_os("WATCHDOG_USEC").is_some() {
        send("WATCHDOG=1");
    }
}

fn send(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let Ok(sock) = UnixDatagram::unbound() else {
        return;
    };
    let bytes = path.as_encoded_bytes();
    let r = if let Some(abstract_name) = bytes.strip_prefix(b"@") {
        use std::os::linux::net::SocketAddrExt;
        std::os::unix::net::SocketAddr::from_abstract_name(abstract_name)
            .and_then(|a| sock.send_to_addr(state.as_bytes(), &a))
    } else {
        sock.send_to(state.as_bytes(), &path)
    };
    if let Err(e) = r {
        errln!("ldirectord-rs: cannot notify systemd: {e}");
    }
}
