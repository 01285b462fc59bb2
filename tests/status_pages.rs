//! The status pages from a running director: taken a slice at a time on its
//! loop, yet whole and in config order; rendered once and the same bytes
//! given to every client while fresh; a table change shows in the next one.

mod common;

use bytes::Bytes;
use ldirectord_rs::ipvs::memory::MemoryIpvs;
use ldirectord_rs::output::status::{Page, Status, StatusQuery};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// `virtuals` virtuals of `reals` reals each, all `checktype=on`.
fn config(virtuals: usize, reals: usize) -> String {
    let mut s = String::from("checkinterval=2\nresyncinterval=1000\n");
    for v in 0..virtuals {
        s.push_str(&format!("virtual=127.42.{v}.100:80\n\tchecktype=on\n"));
        for i in 0..reals {
            s.push_str(&format!(
                "\treal=127.43.{}.{}:80 masq\n",
                i / 200,
                i % 200 + 1
            ));
        }
    }
    s
}

async fn ask(tx: &mpsc::Sender<StatusQuery>, page: Page) -> Bytes {
    let (reply, rx) = oneshot::channel();
    tx.send(StatusQuery { page, reply }).await.unwrap();
    tokio::time::timeout(Duration::from_secs(20), rx)
        .await
        .expect("answered")
        .expect("rendered")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_are_whole_shared_and_follow_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.cf");
    // 3 x 1,200 reals: more than one slice each.
    std::fs::write(&path, config(3, 1200)).unwrap();
    let r = common::start_with(&path, MemoryIpvs::new());
    let (tx, table) = (&r.status, &r.table);

    // Every real comes up within its first interval (2 s); the page
    // follows the table.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let st: Status = serde_json::from_slice(&ask(tx, Page::Status).await).unwrap();
        let up = st
            .virtuals
            .iter()
            .flat_map(|v| &v.reals)
            .filter(|r| r.state == "up" && r.table_weight == Some(1))
            .count();
        let in_table: usize = table.snapshot().iter().map(|s| s.dests.len()).sum();
        if up == 3600 && in_table == 3600 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{up} up in the page, {in_table} in the table"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    let a = ask(tx, Page::Status).await;
    let st: Status = serde_json::from_slice(&a).unwrap();
    assert_eq!(st.virtuals.len(), 3);
    for (vi, v) in st.virtuals.iter().enumerate() {
        assert_eq!(v.virtual_, format!("tcp:127.42.{vi}.100:80"));
        let reals: Vec<&str> = v.reals.iter().map(|r| r.real.as_str()).collect();
        let want: Vec<String> = (0..1200)
            .map(|i| format!("127.43.{}.{}:80", i / 200, i % 200 + 1))
            .collect();
        assert_eq!(reals, want, "virtual {vi}: every real once, in order");
        assert!(v.reals.iter().all(|r| r.check == "on"));
    }

    // Asked again at once: the very same bytes, not a copy.
    let b = ask(tx, Page::Status).await;
    assert_eq!(a.as_ptr(), b.as_ptr());
    let m1 = ask(tx, Page::Metrics).await;
    let m2 = ask(tx, Page::Metrics).await;
    assert_eq!(m1.as_ptr(), m2.as_ptr());
    assert!(String::from_utf8_lossy(&m1).contains("ldirectord_real_up{"));
    assert_eq!(&ask(tx, Page::Health).await[..], b"ok\n");

    r.stop().await;
}
