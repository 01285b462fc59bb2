//! The scheduler under a fake clock (tokio's paused time): every real on its
//! own fixed cadence, first checks spread over the first interval when the
//! table is adopted (and at once for reals missing from it), a check shared by
//! the virtuals that list the same real.

mod common;

use ldirectord_rs::config::Config;
use ldirectord_rs::core::table::{desired_dest, desired_service};
use ldirectord_rs::ipvs::memory::MemoryIpvs;
use ldirectord_rs::ipvs::{Ipvs, Op};
use ldirectord_rs::output::status::{Page, Status, StatusQuery};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

fn config(n: usize, virtuals: usize) -> String {
    let mut s = String::from("checkinterval=5\nchecktimeout=1\nresyncinterval=1000\n");
    for v in 0..virtuals {
        s.push_str(&format!("virtual=127.41.{v}.100:80\n\tchecktype=on\n"));
        for i in 0..n {
            s.push_str(&format!(
                "\treal=127.40.{}.{}:80 masq\n",
                i / 200,
                i % 200 + 1
            ));
        }
    }
    s
}

async fn status(tx: &mpsc::Sender<StatusQuery>) -> Status {
    let (reply, rx) = oneshot::channel();
    tx.send(StatusQuery {
        page: Page::Status,
        reply,
    })
    .await
    .unwrap();
    serde_json::from_slice(&rx.await.unwrap()).unwrap()
}

/// A table holding every virtual and real of `cfg`, as a director that
/// stopped with cleanstop=no leaves it.
fn adopted(cfg: &Config) -> MemoryIpvs {
    let table = MemoryIpvs::new();
    let mut b: Box<dyn Ipvs> = Box::new(table.clone());
    for v in &cfg.virtuals {
        b.apply(&Op::AddService(desired_service(v))).unwrap();
        for r in &v.reals {
            b.apply(&Op::AddDest(v.key, desired_dest(r))).unwrap();
        }
    }
    table
}

fn checks(s: &Status) -> Vec<u64> {
    s.virtuals[0].reals.iter().map(|r| r.checks).collect()
}

#[tokio::test(start_paused = true)]
async fn fixed_cadence_spread_start_and_shared_checks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.cf");
    std::fs::write(&path, config(100, 2)).unwrap();
    let cfg = ldirectord_rs::config::load(&path).unwrap();
    // An adopted table: every real is served already, and its first check
    // may wait (reals missing from the table are checked at once: see below).
    let r = common::start_with(&path, adopted(&cfg));
    let tx = &r.status;

    // Halfway through the first interval about half the reals have had their
    // first check: the start is spread, not a thundering herd.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let first = checks(&status(tx).await);
    let started = first.iter().filter(|&&c| c > 0).count();
    assert!(
        (15..=85).contains(&started),
        "{started} of 100 checked after half an interval"
    );
    assert!(first.iter().all(|&c| c <= 1));

    // After 60 s of fake time each real was checked every 5 s: 12 or 13
    // times (depending on where its first check fell), no more, no less.
    tokio::time::sleep(Duration::from_millis(57_500)).await;
    let s = status(tx).await;
    for c in checks(&s) {
        assert!(
            (12..=13).contains(&c),
            "checked {c} times in 60 s at a 5 s interval"
        );
    }
    // The second virtual lists the same reals with the same check: the same
    // counts, because it is the same check (one probe per real per interval).
    let other: Vec<u64> = s.virtuals[1].reals.iter().map(|r| r.checks).collect();
    assert_eq!(checks(&s), other);
    // checktype=on: everything up and in the table.
    assert!(s.virtuals.iter().all(|v| v
        .reals
        .iter()
        .all(|r| r.state == "up" && r.table_weight == Some(1))));

    r.stop().await;
}

#[tokio::test(start_paused = true)]
async fn reals_missing_from_the_table_are_checked_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.cf");
    std::fs::write(&path, config(100, 2)).unwrap();
    let r = common::start_with(&path, MemoryIpvs::new());
    let tx = &r.status;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let s = status(tx).await;
    // Each was checked at once; the next check of each comes at a random
    // point of its interval (so checks that started together do not stay
    // in step), which may already have come for a few.
    assert!(
        checks(&s).iter().all(|&c| (1..=2).contains(&c)),
        "{:?}",
        checks(&s)
    );
    assert!(s.virtuals.iter().all(|v| v
        .reals
        .iter()
        .all(|r| r.state == "up" && r.table_weight == Some(1))));
    // Then each on its own cadence: 12 or 13 checks in 60 s at 5 s.
    tokio::time::sleep(Duration::from_millis(59_900)).await;
    for c in checks(&status(tx).await) {
        assert!((12..=13).contains(&c), "checked {c} times in 60 s");
    }
    r.stop().await;
}

#[test]
fn a_real_in_two_virtuals_is_one_check() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.cf");
    std::fs::write(&path, config(10, 3)).unwrap();
    let cfg = ldirectord_rs::config::load(&path).unwrap();
    let plan = ldirectord_rs::core::plan::Plan::new(&cfg);
    assert_eq!(plan.checks.len(), 10);
    assert!(plan.checks.iter().all(|(_, uses)| uses.len() == 3));
}
