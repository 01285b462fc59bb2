//! ICMP ping checks end to end on the in-memory table: `checktype=connect`
//! on a UDP virtual (ldirectord's ping) and `checktype=ping`, against
//! loopback reals where nothing listens on the port.

// `common` re-exports helpers (Mode) this file does not need.
#[allow(unused_imports)]
mod common;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_on_a_udp_virtual_and_ping_add_reals_that_answer_echo() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on 127.0.0.2:53 or [::1]:8053: a TCP connect or a
    // DNS query would fail; an ICMP echo is answered.
    let text = "\
checkinterval=1
checktimeout=1
resyncinterval=60
virtual=127.0.0.1:53
\treal=127.0.0.2 gate
\tchecktype=connect
\tscheduler=rr
virtual6=[::1]:8053
\treal6=[::1] gate 2
\tchecktype=ping
\tprotocol=tcp
";
    let path = write(dir.path(), "p.cf", text);
    let d = start(&path);
    d.wait("both reals added", LONG, |t| {
        has(t, "127.0.0.2:53") && weight(t, "[::1]:8053") == Some(2)
    })
    .await;
    d.wait_log(
        "Added real server: 127.0.0.2:53 (127.0.0.1:53) (Weight set to 1)",
        LONG,
    )
    .await;
    d.wait_log(
        "Added real server: [::1]:8053 ([::1]:8053) (Weight set to 2)",
        LONG,
    )
    .await;
    d.stop().await;
}
