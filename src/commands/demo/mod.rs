//! `ldirectord-rs demo`: the real director code, three real HTTP servers and a
//! sorry server on loopback, the in-memory IPVS table. It takes one server
//! down, then all of them (the fallback appears), then restores them, printing
//! the events and the table as it goes.
//!
//! [`testbed`] holds its real servers (HTTP, switchable between answering,
//! failing, hanging and refusing); the integration tests use them too.

pub mod testbed;

use crate::director::Director;
use crate::ipvs::memory::MemoryIpvs;
use crate::ipvs::{format_table, ServiceEntry};
use crate::output::console::{errln, outln};
use crate::output::eventlog::EventLog;
use std::path::Path;
use std::time::Duration;
use testbed::{Mode, TestServer};

/// The embedded configuration.
pub const CONFIG: &str = include_str!("demo.yaml");

/// Poll the table until `cond` holds, for at most `limit`.
async fn wait_for(
    table: &MemoryIpvs,
    limit: Duration,
    cond: impl Fn(&[ServiceEntry]) -> bool,
) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if cond(&table.snapshot()) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cond(&table.snapshot())
}

fn dest_weights(t: &[ServiceEntry]) -> Vec<(String, u32)> {
    let mut v: Vec<(String, u32)> = t
        .iter()
        .flat_map(|s| {
            s.dests
                .iter()
                .map(|d| (d.dest.addr.to_string(), d.dest.weight))
        })
        .collect();
    v.sort();
    v
}

fn has(t: &[ServiceEntry], addr: &str) -> bool {
    dest_weights(t).iter().any(|(a, _)| a == addr)
}

/// Run the demo; returns the process exit code.
pub fn run() -> i32 {
    match super::runtime().block_on(demo()) {
        Ok(()) => {
            outln!("\nDemo finished: every step behaved as expected.");
            0
        }
        Err(e) => {
            errln!("\ndemo failed: {e}");
            1
        }
    }
}

async fn demo() -> Result<(), String> {
    let path = Path::new("<embedded demo config>");
    let config = crate::config::yaml::parse(path, CONFIG).map_err(|e| e.to_string())?;
    let v = &config.virtuals[0];
    let mut servers = Vec::new();
    for (i, r) in v.reals.iter().enumerate() {
        let s = TestServer::start(r.addr, &format!("rs{}\n", i + 1))
            .await
            .map_err(|e| format!("cannot start real server on {}: {e}", r.addr))?;
        servers.push(s);
    }
    let fb = v.fallback.ok_or("the demo config has no fallback")?;
    let _sorry = TestServer::start(fb.addr, "Sorry Server\n")
        .await
        .map_err(|e| format!("cannot start the sorry server on {}: {e}", fb.addr))?;
    let names: Vec<String> = v.reals.iter().map(|r| r.addr.to_string()).collect();
    let fallback = fb.addr.to_string();

    outln!("== ldirectord-rs demo: 3 HTTP real servers and a sorry server on loopback,");
    outln!("== checked every second (GET / expecting \"rs<N>\"), programming an in-memory IPVS table.\n");
    let table = MemoryIpvs::new();
    let log = EventLog::stdout();
    let director = Director::with_config(path, config, Box::new(table.clone()), log)
        .map_err(|e| e.to_string())?;
    let (control, control_rx) = tokio::sync::mpsc::channel(1);
    let handle = tokio::spawn(director.run(control_rx));

    let step = |title: &str| outln!("\n-- {title}");
    let show = |t: &MemoryIpvs| outln!("{}", format_table(&t.snapshot()));
    let limit = Duration::from_secs(8);

    step("Start: every real is checked once, then added");
    let ok = wait_for(&table, limit, |t| {
        names.iter().all(|n| has(t, n)) && !has(t, &fallback)
    })
    .await;
    show(&table);
    if !ok {
        return Err("the three reals did not all come up".into());
    }
    tokio::time::sleep(Duration::from_secs(3)).await;

    step(&format!(
        "{} now answers 503: it leaves the table",
        names[1]
    ));
    servers[1].set(Mode::Fail);
    let ok = wait_for(&table, limit, |t| {
        !has(t, &names[1]) && has(t, &names[0]) && has(t, &names[2])
    })
    .await;
    show(&table);
    if !ok {
        return Err(format!("{} was not removed", names[1]));
    }
    tokio::time::sleep(Duration::from_secs(3)).await;

    step(&format!(
        "{} hangs and {} refuses connections: no real left, the fallback comes in",
        names[0], names[2]
    ));
    servers[0].set(Mode::Hang);
    servers[2].set(Mode::Down);
    let ok = wait_for(&table, limit, |t| {
        names.iter().all(|n| !has(t, n)) && has(t, &fallback)
    })
    .await;
    show(&table);
    if !ok {
        return Err("the fallback did not replace the failed reals".into());
    }
    tokio::time::sleep(Duration::from_secs(3)).await;

    step("All three are restored: they come back and the fallback leaves");
    for s in &servers {
        s.set(Mode::Ok);
    }
    let ok = wait_for(&table, limit, |t| {
        names.iter().all(|n| has(t, n)) && !has(t, &fallback)
    })
    .await;
    show(&table);
    if !ok {
        return Err("the reals did not all come back".into());
    }
    tokio::time::sleep(Duration::from_secs(2)).await;

    step("Stop (cleanstop=yes): the virtual service is removed");
    let _ = control
        .send(crate::director::Control::Stop("Demo over".into()))
        .await;
    let _ = handle.await;
    show(&table);
    if !table.snapshot().is_empty() {
        return Err("cleanstop left the virtual service behind".into());
    }
    Ok(())
}
