//! The runtimes the daemon's probes run on, apart from the director loop's
//! (so the loop never waits behind thousands of probe tasks).
//!
//! Two shapes, chosen by `LDIRECTORD_RS_PROBE_RUNTIME` (a tuning knob; the
//! default is what BENCHMARKS.md measured best):
//! - `shards[:N]`: N current-thread runtimes, each on its own thread
//!   (`ldirectord-probe-I`), checks spread over them by id. A check's
//!   timers, socket and wake-ups stay on one thread: no work stealing, no
//!   cross-thread wake-ups between probes. N defaults to the CPUs: on the
//!   2-CPU machine of BENCHMARKS.md one shard held 10,000 reals at 1 s but
//!   left 462 of 20,000 late, two held 20,000; under emulation one shard
//!   cost 11% less CPU per check (fewer thread switches).
//! - `multi[:N]`: one multi-thread (work-stealing) runtime with N workers
//!   (`ldirectord-probe`).

use std::thread::JoinHandle;
use tokio::runtime::{Builder, Handle, Runtime};
use tokio::sync::oneshot;

/// The environment variable that chooses the shape.
pub const ENV: &str = "LDIRECTORD_RS_PROBE_RUNTIME";

/// The probes' runtimes; dropping this stops them.
pub enum ProbeRuntimes {
    Multi(Runtime),
    Shards(Vec<Shard>),
}

/// A current-thread runtime on a thread of its own.
pub struct Shard {
    handle: Handle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// The shape `spec` (the variable's value) names; an unknown one is the
/// default.
fn shape(spec: Option<&str>) -> (bool, usize) {
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let spec = spec.unwrap_or("").trim();
    let (kind, n) = spec.split_once(':').unwrap_or((spec, ""));
    let n = n
        .parse()
        .ok()
        .filter(|&n: &usize| n > 0)
        .unwrap_or(cpus)
        .min(64);
    (kind != "multi", n)
}

impl ProbeRuntimes {
    /// Build the shape `LDIRECTORD_RS_PROBE_RUNTIME` names.
    pub fn from_env() -> std::io::Result<Self> {
        let (shards, n) = shape(std::env::var(ENV).ok().as_deref());
        if !shards {
            return Ok(ProbeRuntimes::Multi(
                Builder::new_multi_thread()
                    .worker_threads(n)
                    .thread_name("ldirectord-probe")
                    .enable_all()
                    .build()?,
            ));
        }
        let mut all = Vec::with_capacity(n);
        for i in 0..n {
            all.push(Shard::start(i)?);
        }
        Ok(ProbeRuntimes::Shards(all))
    }

    /// Where probes are spawned.
    pub fn handles(&self) -> Vec<Handle> {
        match self {
            ProbeRuntimes::Multi(rt) => vec![rt.handle().clone()],
            ProbeRuntimes::Shards(s) => s.iter().map(|s| s.handle.clone()).collect(),
        }
    }
}

impl Shard {
    fn start(i: usize) -> std::io::Result<Shard> {
        let rt = Builder::new_current_thread().enable_all().build()?;
        let handle = rt.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("ldirectord-probe-{i}"))
            .spawn(move || {
                // Runs the spawned probes until told to stop.
                let _ = rt.block_on(stopped);
            })?;
        Ok(Shard {
            handle,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Shard {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shape_is_read_from_the_variable() {
        let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        assert_eq!(shape(None), (true, cpus));
        assert_eq!(shape(Some("shards:3")), (true, 3));
        assert_eq!(shape(Some("multi")), (false, cpus));
        assert_eq!(shape(Some("multi:1")), (false, 1));
        assert_eq!(shape(Some("multi:0")), (false, cpus));
        assert_eq!(shape(Some("shards:1000")), (true, 64));
    }

    #[test]
    fn shards_run_spawned_work_and_stop_when_dropped() {
        let r = ProbeRuntimes::from_env().expect("runtimes");
        let (tx, rx) = std::sync::mpsc::channel();
        for h in r.handles() {
            let tx = tx.clone();
            h.spawn(async move {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                let _ = tx.send(std::thread::current().name().map(str::to_string));
            });
        }
        let n = r.handles().len();
        let names: Vec<_> = (0..n)
            .map(|_| {
                rx.recv_timeout(std::time::Duration::from_secs(5))
                    .expect("ran")
            })
            .collect();
        assert!(names.iter().all(|n| n
            .as_deref()
            .is_some_and(|n| n.starts_with("ldirectord-probe"))));
        drop(r);
    }
}
