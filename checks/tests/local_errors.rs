//! A probe that fails for a reason local to the director (here: out of file
//! descriptors) says nothing about the server: its outcome is inconclusive.
//! Alone in its own test binary, since it lowers the open-files limit of
//! the whole process.

// Test harness: the process's open-files limit, through libc.
#![allow(unsafe_code)]

use std::net::TcpListener;
use std::os::fd::OwnedFd;
use std::time::Duration;

use ldirectord_checks::{run, Inconclusive, Probe};

fn nofile() -> (u64, u64) {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit with a valid pointer to a local rlimit.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) }, 0);
    (r.rlim_cur, r.rlim_max)
}

fn set_soft_nofile(cur: u64, max: u64) {
    let r = libc::rlimit {
        rlim_cur: cur,
        rlim_max: max,
    };
    // SAFETY: setrlimit with a valid pointer to a local rlimit.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &r) }, 0);
}

#[tokio::test(flavor = "current_thread")]
async fn out_of_file_descriptors_is_the_directors_own_failure() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let (cur, max) = nofile();
    // Use up every descriptor under a low limit.
    set_soft_nofile(256, max);
    let mut filler: Vec<OwnedFd> = Vec::new();
    while let Ok(f) = std::fs::File::open("/dev/null") {
        filler.push(f.into());
        assert!(filler.len() < 10_000, "the limit did not apply");
    }
    let out = run(&Probe::Connect, addr, Duration::from_secs(1)).await;
    drop(filler);
    set_soft_nofile(cur, max);
    assert!(!out.up, "{out:?}");
    assert!(out.reason.contains("Too many open files"), "{}", out.reason);
    assert_eq!(out.inconclusive, Some(Inconclusive::Local), "{out:?}");
    // With descriptors back, the same server is up.
    let out = run(&Probe::Connect, addr, Duration::from_secs(1)).await;
    assert!(out.up, "{out:?}");
    assert_eq!(out.inconclusive, None);
}
