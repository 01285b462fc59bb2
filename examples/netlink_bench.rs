//! Timing the netlink IPVS backend against a real kernel, and watching the
//! kernel table while a daemon programs it. Used by bench/vm/ (see
//! bench/vm/RESULTS.md); run it inside a network namespace of its own so the
//! table is private.
//!
//! ```text
//! netlink_bench install --services S --dests D [--edits E]
//!     The table must be empty. Adds S services (wrr) with D masq destinations
//!     each (one request per service and per destination, as the director
//!     does), then E weight changes (edit_dest), then dumps the table once and
//!     checks it, then deletes the services. Prints one JSON object:
//!     {"services":S,"dests":S*D,"add_ms":..,"edits":E,"edit_ms":..,
//!      "dump_ms":..,"clear_ms":..}
//! netlink_bench count
//!     Prints the number of services and destinations: `S D`.
//! netlink_bench wait-count N [--timeout S] [--interval-ms MS]
//!     Dumps the table every MS ms (default 50) until it holds at least N
//!     destinations; prints {"reached_ns":UNIX_NS,"dests":..,"polls":..}
//!     (exit 1 on timeout).
//! netlink_bench watch --first I --count C [--stride K] --until gone|back
//!     [--timeout S] [--interval-ms MS] [--confirm R]
//!     Watches the reals I, I+K, ... (C of them; real i is 127.1.0.1+i:8080)
//!     until each is gone from the table (deleted or weight 0) or back
//!     (present with weight > 0), seen so at R polls in a row (default 2:
//!     a dump racing the daemon's changes can skip an entry; the time given
//!     is that of the first of those polls). Prints {"start_ns":..,"polls":..,
//!     "events":{"INDEX":UNIX_NS,...},"missing":[..],"others_gone":[..]};
//!     others_gone lists the reals outside the watched set that were
//!     absent (or weight 0) at R polls in a row after having been present:
//!     healthy reals wrongly taken out. Exit 1 when some never changed.
//! ```
//!
//! Addresses are those of bench/vm/gen.py: virtual v is
//! 127.200.(v/250).(v%250+1):80, real i is 127.1.0.1+i:8080.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ldirectord_rs::ipvs::netlink::NetlinkIpvs;
use ldirectord_rs::ipvs::{Dest, Forward, Ipvs, Protocol, Service, ServiceKey};

const REAL_BASE: u32 = u32::from_be_bytes([127, 1, 0, 1]);
const REAL_PORT: u16 = 8080;

fn vip(v: usize) -> ServiceKey {
    ServiceKey::Inet {
        proto: Protocol::Tcp,
        addr: SocketAddr::new(
            IpAddr::V4(Ipv4Addr::new(
                127,
                200,
                (v / 250) as u8,
                (v % 250 + 1) as u8,
            )),
            80,
        ),
    }
}

fn real(i: usize) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::from(REAL_BASE + i as u32)), REAL_PORT)
}

fn real_index(a: &SocketAddr) -> Option<usize> {
    match a.ip() {
        IpAddr::V4(ip) if a.port() == REAL_PORT => {
            let n = u32::from(ip);
            (n >= REAL_BASE).then(|| (n - REAL_BASE) as usize)
        }
        _ => None,
    }
}

fn unix_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// `--name value` options after the command.
struct Opts(HashMap<String, String>);

impl Opts {
    fn parse(args: &[String]) -> Result<Opts, String> {
        let mut m = HashMap::new();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let Some(name) = a.strip_prefix("--") else {
                return Err(format!("unexpected argument {a:?}"));
            };
            let v = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
            m.insert(name.to_string(), v.clone());
        }
        Ok(Opts(m))
    }
    fn num<T: std::str::FromStr>(&self, name: &str, default: Option<T>) -> Result<T, String> {
        match self.0.get(name) {
            Some(v) => v.parse().map_err(|_| format!("bad --{name} {v:?}")),
            None => default.ok_or_else(|| format!("--{name} is required")),
        }
    }
    fn text(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

fn connect() -> Result<NetlinkIpvs, String> {
    NetlinkIpvs::connect().map_err(|e| e.to_string())
}

/// (index -> weight) of every bench real in the table, and the total count.
fn snapshot(ipvs: &mut NetlinkIpvs) -> Result<(HashMap<usize, u32>, usize), String> {
    let mut m = HashMap::new();
    let mut n = 0;
    for e in ipvs.dump().map_err(|e| format!("dump: {e}"))? {
        for d in e.dests {
            n += 1;
            if let Some(i) = real_index(&d.dest.addr) {
                m.insert(i, d.dest.weight);
            }
        }
    }
    Ok((m, n))
}

fn install(o: &Opts) -> Result<(), String> {
    let services: usize = o.num("services", None)?;
    let per: usize = o.num("dests", None)?;
    let edits: usize = o.num("edits", Some(0))?;
    let total = services * per;
    if services == 0 || per == 0 || services > 60_000 || total > 60_000 {
        return Err("want 1..60000 services and 1..60000 destinations in all".into());
    }
    if edits > total {
        return Err(format!(
            "--edits {edits} is more than the {total} destinations"
        ));
    }
    let mut ipvs = connect()?;
    if !ipvs.dump().map_err(|e| format!("dump: {e}"))?.is_empty() {
        return Err("the table is not empty (run in a fresh namespace or ipvsadm -C)".into());
    }
    let dest = |i: usize, weight: u32| Dest {
        addr: real(i),
        forward: Forward::Masq,
        weight,
        upper: 0,
        lower: 0,
    };
    let t = Instant::now();
    for v in 0..services {
        let svc = Service {
            key: vip(v),
            scheduler: "wrr".into(),
            flags: 0,
            timeout: 0,
            netmask: 0xFFFF_FFFF,
        };
        ipvs.add_service(&svc)
            .map_err(|e| format!("add_service {}: {e}", svc.key))?;
        for k in 0..per {
            let i = v * per + k;
            ipvs.add_dest(&svc.key, &dest(i, 1))
                .map_err(|e| format!("add_dest {}: {e}", real(i)))?;
        }
    }
    let add = t.elapsed();
    // Weight changes spread over the whole table, as reloads and health
    // changes would be.
    let stride = total.checked_div(edits).unwrap_or(1);
    let t = Instant::now();
    for j in 0..edits {
        let i = j * stride;
        ipvs.edit_dest(&vip(i / per), &dest(i, 2))
            .map_err(|e| format!("edit_dest {}: {e}", real(i)))?;
    }
    let edit = t.elapsed();
    let t = Instant::now();
    let (m, n) = snapshot(&mut ipvs)?;
    let dump = t.elapsed();
    let twos = m.values().filter(|w| **w == 2).count();
    if n != total || m.len() != total || twos != edits {
        return Err(format!(
            "table check failed: {n} destinations ({} bench reals, {twos} of weight 2), \
             want {total} and {edits}",
            m.len()
        ));
    }
    let t = Instant::now();
    for v in 0..services {
        ipvs.del_service(&vip(v))
            .map_err(|e| format!("del_service {}: {e}", vip(v)))?;
    }
    let clear = t.elapsed();
    println!(
        "{{\"services\":{services},\"dests\":{total},\"add_ms\":{},\"edits\":{edits},\
         \"edit_ms\":{},\"dump_ms\":{},\"clear_ms\":{}}}",
        ms(add),
        ms(edit),
        ms(dump),
        ms(clear)
    );
    Ok(())
}

fn count() -> Result<(), String> {
    let mut ipvs = connect()?;
    let t = ipvs.dump().map_err(|e| format!("dump: {e}"))?;
    let d: usize = t.iter().map(|e| e.dests.len()).sum();
    println!("{} {d}", t.len());
    Ok(())
}

fn wait_count(n: usize, o: &Opts) -> Result<bool, String> {
    let timeout: f64 = o.num("timeout", Some(600.0))?;
    let every: u64 = o.num("interval-ms", Some(50))?;
    let mut ipvs = connect()?;
    let end = Instant::now() + Duration::from_secs_f64(timeout);
    let mut polls = 0u64;
    loop {
        let d: usize = ipvs
            .dump()
            .map_err(|e| format!("dump: {e}"))?
            .iter()
            .map(|e| e.dests.len())
            .sum();
        polls += 1;
        if d >= n {
            println!(
                "{{\"reached_ns\":{},\"dests\":{d},\"polls\":{polls}}}",
                unix_ns()
            );
            return Ok(true);
        }
        if Instant::now() >= end {
            println!("{{\"reached_ns\":null,\"dests\":{d},\"polls\":{polls}}}");
            return Ok(false);
        }
        std::thread::sleep(Duration::from_millis(every));
    }
}

fn watch(o: &Opts) -> Result<bool, String> {
    let first: usize = o.num("first", None)?;
    let count: usize = o.num("count", None)?;
    let stride: usize = o.num("stride", Some(1))?;
    let timeout: f64 = o.num("timeout", Some(120.0))?;
    let every: u64 = o.num("interval-ms", Some(100))?;
    let confirm: u32 = o.num("confirm", Some(2))?;
    let gone = match o.text("until") {
        Some("gone") => true,
        Some("back") => false,
        _ => return Err("--until gone|back is required".into()),
    };
    if stride == 0 || count == 0 {
        return Err("--count and --stride must be at least 1".into());
    }
    let watched: BTreeSet<usize> = (0..count).map(|k| first + k * stride).collect();
    let mut ipvs = connect()?;
    let start_ns = unix_ns();
    let end = Instant::now() + Duration::from_secs_f64(timeout);
    let mut events: BTreeMap<usize, u128> = BTreeMap::new();
    // A state counts only once seen at `confirm` polls in a row (its time is
    // the first of them): a dump racing the daemon's own changes can skip an
    // entry (the kernel's dump cursor is an index).
    let mut streak: HashMap<usize, (u128, u32)> = HashMap::new();
    let mut other_streak: HashMap<usize, u32> = HashMap::new();
    let mut seen_up: BTreeSet<usize> = BTreeSet::new();
    let mut others_gone: BTreeSet<usize> = BTreeSet::new();
    let mut polls = 0u64;
    loop {
        let (m, _) = snapshot(&mut ipvs)?;
        let now = unix_ns();
        polls += 1;
        for &i in &watched {
            if events.contains_key(&i) {
                continue;
            }
            let up = m.get(&i).is_some_and(|w| *w > 0);
            if up != gone {
                let e = streak.entry(i).or_insert((now, 0));
                e.1 += 1;
                if e.1 >= confirm {
                    events.insert(i, e.0);
                }
            } else {
                streak.remove(&i);
            }
        }
        for (&i, &w) in &m {
            if w > 0 && !watched.contains(&i) {
                seen_up.insert(i);
            }
        }
        for &i in &seen_up {
            if m.get(&i).is_some_and(|w| *w > 0) {
                other_streak.remove(&i);
            } else {
                let c = other_streak.entry(i).or_insert(0);
                *c += 1;
                if *c >= confirm {
                    others_gone.insert(i);
                }
            }
        }
        if events.len() == watched.len() || Instant::now() >= end {
            break;
        }
        std::thread::sleep(Duration::from_millis(every));
    }
    let missing: Vec<usize> = watched
        .iter()
        .filter(|i| !events.contains_key(i))
        .copied()
        .collect();
    let ev: Vec<String> = events.iter().map(|(i, t)| format!("\"{i}\":{t}")).collect();
    let join =
        |v: &mut dyn Iterator<Item = usize>| v.map(|i| i.to_string()).collect::<Vec<_>>().join(",");
    println!(
        "{{\"start_ns\":{start_ns},\"polls\":{polls},\"events\":{{{}}},\"missing\":[{}],\
         \"others_gone\":[{}]}}",
        ev.join(","),
        join(&mut missing.iter().copied()),
        join(&mut others_gone.iter().copied())
    );
    Ok(missing.is_empty())
}

fn run(args: &[String]) -> Result<bool, String> {
    let Some(cmd) = args.first() else {
        return Err("no command (install, count, wait-count, watch)".into());
    };
    match cmd.as_str() {
        "install" => install(&Opts::parse(&args[1..])?).map(|()| true),
        "count" => count().map(|()| true),
        "wait-count" => {
            let n: usize = args
                .get(1)
                .and_then(|s| s.parse().ok())
                .ok_or("wait-count needs a number")?;
            wait_count(n, &Opts::parse(&args[2..])?)
        }
        "watch" => watch(&Opts::parse(&args[1..])?),
        other => Err(format!("unknown command {other:?}")),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("netlink_bench: {e} (see the header of examples/netlink_bench.rs)");
            ExitCode::from(2)
        }
    }
}
