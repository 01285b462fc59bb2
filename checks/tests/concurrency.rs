//! Hung servers do not delay other probes: one task per probe on a single
//! thread, all at once.

mod common;

use std::time::{Duration, Instant};

use common::{http_server, response};
use ldirectord_checks::{run, HttpProbe, Probe};
use tokio::task::JoinSet;

#[tokio::test(flavor = "current_thread")]
async fn fifty_hung_servers_do_not_delay_a_good_one() {
    let mut hung = Vec::new();
    for _ in 0..50 {
        hung.push(common::hung_server().await);
    }
    let mut good = http_server(response("200 OK", "fine")).await;
    let probe = Probe::Http(HttpProbe::default());

    let start = Instant::now();
    let mut set = JoinSet::new();
    for addr in hung {
        let p = probe.clone();
        set.spawn(async move {
            (
                false,
                run(&p, addr, Duration::from_secs(3)).await,
                start.elapsed(),
            )
        });
    }
    let p = probe.clone();
    let good_addr = good.addr;
    set.spawn(async move {
        (
            true,
            run(&p, good_addr, Duration::from_secs(3)).await,
            start.elapsed(),
        )
    });

    let mut hung_done = 0;
    let mut good_seen = false;
    while let Some(r) = set.join_next().await {
        let (is_good, out, at) = r.unwrap();
        if is_good {
            good_seen = true;
            assert!(out.up, "{out:?}");
            assert!(at < Duration::from_secs(1), "good probe took {at:?}");
        } else {
            hung_done += 1;
            assert!(!out.up);
            assert_eq!(out.reason, "timed out after 3s");
            assert!(at < Duration::from_secs(8), "hung probe took {at:?}");
        }
    }
    assert!(good_seen);
    assert_eq!(hung_done, 50);
    good.next_seen().await;
}
