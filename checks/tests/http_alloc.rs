//! The cost of a plain HTTP check in heap allocations, counted on the
//! probing thread: a redirect-free check of a warmed-up probe allocates
//! next to nothing (the buffer is pooled and the request rendered in
//! place): the reason string and the runtime's own (socket registration).
//! Following redirects must not add to it, nor to the size of the check's
//! future (which the director boxes per check).

// Test harness code: a counting global allocator is an `unsafe impl`.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use ldirectord_checks::{run, HttpProbe, Probe};

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static A: Counting = Counting;

fn allocs() -> u64 {
    ALLOCS.with(Cell::get)
}

/// A blocking server on its own thread (its allocations are not counted):
/// each connection gets `reply`, at most `n` connections.
fn server(reply: &'static [u8], n: usize) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for _ in 0..n {
            let Ok((mut s, _)) = l.accept() else { return };
            let mut head = Vec::new();
            let mut b = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
                if s.read(&mut b).unwrap_or(0) == 0 {
                    break;
                }
                head.push(b[0]);
            }
            let _ = s.write_all(reply);
        }
    });
    addr
}

#[test]
fn a_plain_check_allocates_nothing_once_warm() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let addr = server(b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nhello rs", 20);
    let probe = Probe::Http(HttpProbe {
        receive: Some(regex::bytes::Regex::new("rs").unwrap().into()),
        ..HttpProbe::default()
    });
    rt.block_on(async {
        let mut counts = Vec::new();
        for _ in 0..10 {
            let before = allocs();
            let o = run(&probe, addr, Duration::from_secs(3)).await;
            counts.push(allocs() - before);
            assert!(o.up, "{o:?}");
            assert_eq!(o.reason, "HTTP 200");
        }
        println!("allocations per check: {counts:?}");
        // 3 before redirects and httpstatus were added.
        let warm = counts[2..].iter().max().copied().unwrap();
        assert!(
            warm <= 3,
            "a plain check allocates {warm} times: {counts:?}"
        );
    });
}

#[test]
fn a_plain_check_future_stays_small() {
    let probe = Probe::Http(HttpProbe::default());
    let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let f = run(&probe, addr, Duration::from_secs(1));
    let size = std::mem::size_of_val(&f);
    // 1032 bytes before redirects, httpstatus and TLS options were added
    // (736 since: the deadline no longer holds the probe's future twice).
    assert!(
        size <= 1032,
        "the run future of an http check is {size} bytes"
    );
    assert!(std::mem::size_of::<Probe>() <= 112, "Probe grew");
}
