//! A check that fails for a reason of the director's own (here: out of file
//! descriptors, as when something exhausts the open-files limit) is not
//! counted against the real: it is retried and logged as the director's
//! problem. Alone in its own test binary, since it lowers the open-files
//! limit of the whole process.

// Test harness: the process's open-files limit, through libc.
#![allow(unsafe_code)]

mod common;
use common::*;
use std::os::fd::OwnedFd;
use std::time::Duration;

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
async fn out_of_file_descriptors_never_removes_a_healthy_real() {
    let dir = tempfile::tempdir().unwrap();
    let rs = servers(39, 1).await;
    let text = format!(
        "checkinterval=1\nchecktimeout=1\nquiescent=no\nvirtual=127.39.0.100:80\n\treal={} masq\n\tservice=http\n\tchecktype=negotiate\n\trequest=\"/\"\n\treceive=\"^rs\"\n",
        rs[0].addr()
    );
    let path = write(dir.path(), "l.cf", &text);
    let d = start(&path);
    let a = rs[0].addr();
    d.wait("up", LONG, |t| has(t, a)).await;

    // Every descriptor taken, for a few check intervals.
    let (cur, max) = nofile();
    set_soft_nofile(512, max);
    let mut filler: Vec<OwnedFd> = Vec::new();
    while let Ok(f) = std::fs::File::open("/dev/null") {
        filler.push(f.into());
        assert!(filler.len() < 10_000, "the limit did not apply");
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(4);
    while tokio::time::Instant::now() < deadline {
        assert!(has(&d.table.snapshot(), a), "{:#?}", d.lines());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(filler);
    set_soft_nofile(cur, max);

    d.wait_log("failed for a reason of the director's own", LONG)
        .await;
    assert!(
        d.count("Too many open files") >= 1,
        "the reason is logged: {:#?}",
        d.lines()
    );
    assert_eq!(d.count("Deleted real server"), 0, "{:#?}", d.lines());
    // Checks go on as before: the real stays, and a real failure of its
    // own still counts.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(has(&d.table.snapshot(), a), "{:#?}", d.lines());
    rs[0].set(Mode::Down);
    d.wait("refused real removed", LONG, |t| !has(t, a)).await;
    d.wait_log(&format!("Deleted real server: {a}"), LONG).await;
    assert_eq!(d.count("Deleted real server"), 1, "{:#?}", d.lines());
    d.stop().await;
}
