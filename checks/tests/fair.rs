//! Fairness to the server, with real sockets: the director's own stalls
//! (here: the runtime's only thread blocked, as a CPU-starved director is)
//! never become a failure of the server, while a hung server is still found.
//!
//! The servers run on plain threads, so they keep answering while the
//! runtime is blocked.

use std::future::Future;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use ldirectord_checks::{run, run_fair, Inconclusive, Outcome, Probe, StallClock};
use tokio::time::Instant;

const MS: fn(u64) -> Duration = Duration::from_millis;

/// A server on its own thread: for each connection, wait `before_read`,
/// read a line when `read_request`, wait `delay`, then answer `ok` (or
/// never, when `delay` is None) and hold the connection a while.
fn thread_server(read_request: bool, delay: Option<Duration>) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            std::thread::spawn(move || {
                if read_request {
                    let mut buf = [0u8; 64];
                    let mut got = Vec::new();
                    while !got.contains(&b'\n') {
                        match s.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => got.extend_from_slice(&buf[..n]),
                        }
                    }
                }
                if let Some(d) = delay {
                    std::thread::sleep(d);
                    let _ = s.write_all(b"ok\n");
                }
                std::thread::sleep(Duration::from_secs(10));
            });
        }
    });
    addr
}

fn simpletcp(request: &str) -> Probe {
    Probe::SimpleTcp {
        request: request.as_bytes().to_vec(),
        receive: Arc::new(regex::bytes::Regex::new("ok").unwrap()),
    }
}

/// Block the runtime's thread (the director "not running") for `d`.
fn block(d: Duration) {
    std::thread::sleep(d);
}

/// Run `probe` from now, on this task, while `stall` (polled first, on the
/// same task) does what it likes with the thread.
async fn with_stall<S>(probe_fut: impl Future<Output = Outcome>, stall: S) -> Outcome
where
    S: Future<Output = ()>,
{
    let mut probe_fut = std::pin::pin!(probe_fut);
    let mut stall = std::pin::pin!(stall);
    let mut stall_done = false;
    std::future::poll_fn(|cx| {
        if !stall_done {
            stall_done = stall.as_mut().poll(cx).is_ready();
        }
        probe_fut.as_mut().poll(cx)
    })
    .await
}

#[tokio::test(flavor = "current_thread")]
async fn an_answer_that_came_while_the_director_was_not_running_is_taken() {
    // The server speaks first, 60 ms after the probe's deadline.
    let timeout = MS(500);
    let addr = thread_server(false, Some(MS(560)));
    let t0 = Instant::now();
    let probe = simpletcp("");
    // 1. Just before the deadline the thread is blocked past it, so the
    //    deadline is found expired at the next reactor turn, when nothing
    //    has arrived yet.
    // 2. On the wake-up that deadline gives, the thread is blocked again
    //    (polled before the probe) while the answer arrives; the probe is
    //    then polled with its deadline passed and the answer unseen.
    let mut polls = 0;
    let mut first = Box::pin(tokio::time::sleep_until(t0 + MS(450)));
    let stall = std::future::poll_fn(move |cx| {
        if first.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        polls += 1;
        match polls {
            1 => {
                block(MS(80));
                Poll::Pending // woken again by the probe's deadline
            }
            _ => {
                block(MS(300));
                Poll::Ready(())
            }
        }
    });
    let out = with_stall(run(&probe, addr, timeout), stall).await;
    assert!(
        out.up,
        "the answer waiting in the socket was not taken: {out:?}"
    );
    assert_eq!(out.inconclusive, None);
}

#[tokio::test(flavor = "current_thread")]
async fn a_window_the_director_could_not_run_is_made_up_for() {
    // The server answers 50 ms after the request; the director is blocked
    // for 800 ms right after connecting, before it could send the request.
    let timeout = MS(500);
    let addr = thread_server(true, Some(MS(50)));
    let probe = simpletcp("ping\n");

    // Without a stall clock: the server never had its chance, and the
    // probe says it timed out (what a CPU-starved director did).
    let stall = async {
        tokio::task::yield_now().await;
        block(MS(800));
    };
    let out = with_stall(run(&probe, addr, timeout), stall).await;
    assert!(!out.up, "{out:?}");
    assert_eq!(out.reason, "timed out after 500ms");

    // With the clock, the deadline moves back by the stall.
    let clock = StallClock::new();
    let monitor = tokio::spawn(clock.monitor());
    tokio::time::sleep(MS(60)).await;
    let stall = async {
        tokio::task::yield_now().await;
        block(MS(800));
    };
    let out = with_stall(run_fair(&probe, addr, timeout, Some(&clock)), stall).await;
    assert!(out.up, "{out:?}");
    assert!(out.latency >= MS(800), "{out:?}");
    monitor.abort();
}

/// Block the thread `on` out of every `period`, forever.
async fn duty_cycle(on: Duration, period: Duration) {
    loop {
        block(on);
        tokio::time::sleep(period - on).await;
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_hung_server_is_still_found_while_the_director_keeps_stalling() {
    let timeout = MS(300);
    let addr = thread_server(true, None);
    let clock = StallClock::new();
    let monitor = tokio::spawn(clock.monitor());
    tokio::time::sleep(MS(60)).await;
    // The director runs half of the time, for as long as the test lasts.
    let out = with_stall(
        run_fair(&simpletcp("ping\n"), addr, timeout, Some(&clock)),
        duty_cycle(MS(100), MS(200)),
    )
    .await;
    assert!(!out.up, "{out:?}");
    assert_eq!(out.reason, "timed out after 300ms");
    assert_eq!(out.inconclusive, None, "a hung server must count: {out:?}");
    // It waited for the stalls, but no longer than the cap allows.
    assert!(out.latency >= MS(400), "{out:?}");
    assert!(out.latency < MS(1600), "{out:?}");
    monitor.abort();
}

#[tokio::test(flavor = "current_thread")]
async fn a_probe_the_director_could_not_run_is_inconclusive() {
    let timeout = MS(200);
    let addr = thread_server(true, None);
    let clock = StallClock::new();
    let monitor = tokio::spawn(clock.monitor());
    tokio::time::sleep(MS(60)).await;
    // The director runs 5% of the time: within the cap (4 x 200 ms) the
    // server never gets 90% of its timeout.
    let out = with_stall(
        run_fair(&simpletcp("ping\n"), addr, timeout, Some(&clock)),
        duty_cycle(MS(190), MS(200)),
    )
    .await;
    assert!(!out.up, "{out:?}");
    assert_eq!(out.inconclusive, Some(Inconclusive::Stalled), "{out:?}");
    assert!(out.latency >= MS(800), "{out:?}");
    monitor.abort();
}

#[tokio::test(flavor = "current_thread")]
async fn an_answer_in_time_is_unaffected_by_the_clock() {
    let addr = thread_server(true, Some(MS(5)));
    let clock = StallClock::new();
    let monitor = tokio::spawn(clock.monitor());
    let out = run_fair(&simpletcp("ping\n"), addr, MS(500), Some(&clock)).await;
    assert!(out.up, "{out:?}");
    // A refused connection is an answer, whatever the clock says.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = l.local_addr().unwrap();
    drop(l);
    let out = run_fair(&Probe::Connect, closed, MS(500), Some(&clock)).await;
    assert!(!out.up);
    assert_eq!(out.reason, "connection refused");
    assert_eq!(out.inconclusive, None);
    monitor.abort();
}
