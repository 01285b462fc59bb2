//! Drive the netlink IPVS backend from the command line: one operation per
//! run, for checking it against a real kernel next to `ipvsadm -Ln`.
//!
//! ```text
//! ipvs_smoke connect
//! ipvs_smoke add-service  <svc> [sched [persist_timeout [netmask]]]
//! ipvs_smoke edit-service <svc> [sched [persist_timeout [netmask]]]
//! ipvs_smoke del-service  <svc>
//! ipvs_smoke add-dest     <svc> <ip:port> <masq|gate|ipip|local> <weight> [upper lower]
//! ipvs_smoke edit-dest    <svc> <ip:port> <masq|gate|ipip|local> <weight> [upper lower]
//! ipvs_smoke del-dest     <svc> <ip:port>
//! ipvs_smoke dump
//! ipvs_smoke start-daemon <master|backup> <ifname> <syncid>
//! ipvs_smoke stop-daemon  <master|backup>
//! ipvs_smoke daemons
//! ```
//!
//! `<svc>` is `tcp:10.0.0.1:80`, `udp:[2001:db8::1]:53`, `sctp:...`,
//! `fwm:10` (IPv4) or `fwm6:10` (IPv6). The netmask is an IPv4 dotted mask
//! or an IPv6 prefix length (defaults 255.255.255.255 and 128); a timeout
//! above 0 sets the persistent flag. `dump` prints one line per service
//! (`service tcp:10.0.0.1:80 sched=rr flags=0x0 timeout=0 netmask=0xffffffff`)
//! followed by one line per destination (`  dest 10.0.0.2:80 fwd=masq
//! weight=1 upper=0 lower=0 active=0 inactive=0 persist=0 conns=0 inpkts=0
//! outpkts=0 inbytes=0 outbytes=0`). Exit codes: 0 ok, 2 usage, otherwise
//! `IpvsError::exit_code()` (3 unavailable, 4 permission, 5 other).

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use ldirectord_rs::ipvs::netlink::NetlinkIpvs;
use ldirectord_rs::ipvs::{
    flags, Dest, Forward, Ipvs, IpvsError, Protocol, Service, ServiceKey, SyncDaemon, SyncState,
};

fn usage(msg: &str) -> Result<(), (i32, String)> {
    Err((
        2,
        format!("usage: {msg} (see the header of examples/ipvs_smoke.rs)"),
    ))
}

fn parse_key(s: &str) -> Result<ServiceKey, (i32, String)> {
    let bad = || {
        (
            2,
            format!("bad service {s:?}: want tcp:IP:PORT, udp:..., sctp:..., fwm:N or fwm6:N"),
        )
    };
    let (kind, rest) = s.split_once(':').ok_or_else(bad)?;
    match kind {
        "fwm" | "fwm6" => Ok(ServiceKey::Fwmark {
            mark: rest.parse().map_err(|_| bad())?,
            v6: kind == "fwm6",
        }),
        _ => {
            let proto = match kind {
                "tcp" => Protocol::Tcp,
                "udp" => Protocol::Udp,
                "sctp" => Protocol::Sctp,
                _ => return Err(bad()),
            };
            Ok(ServiceKey::Inet {
                proto,
                addr: rest.parse().map_err(|_| bad())?,
            })
        }
    }
}

fn parse<T: std::str::FromStr>(what: &str, s: &str) -> Result<T, (i32, String)> {
    s.parse().map_err(|_| (2, format!("bad {what} {s:?}")))
}

fn parse_fwd(s: &str) -> Result<Forward, (i32, String)> {
    Ok(match s {
        "masq" | "m" => Forward::Masq,
        "gate" | "g" => Forward::Route,
        "ipip" | "i" => Forward::Tunnel,
        "local" => Forward::Local,
        _ => {
            return Err((
                2,
                format!("bad forwarding method {s:?}: masq, gate, ipip or local"),
            ))
        }
    })
}

fn parse_state(s: &str) -> Result<SyncState, (i32, String)> {
    match s {
        "master" => Ok(SyncState::Master),
        "backup" => Ok(SyncState::Backup),
        _ => Err((2, format!("bad sync state {s:?}: master or backup"))),
    }
}

fn service(args: &[String]) -> Result<Service, (i32, String)> {
    let key = parse_key(&args[0])?;
    let scheduler = args.get(1).cloned().unwrap_or_else(|| "wlc".into());
    let timeout: u32 = match args.get(2) {
        Some(t) => parse("timeout", t)?,
        None => 0,
    };
    let netmask = match args.get(3) {
        Some(m) if key.is_v6() => parse("prefix length", m)?,
        Some(m) => u32::from(parse::<Ipv4Addr>("netmask", m)?),
        None if key.is_v6() => 128,
        None => 0xFFFF_FFFF,
    };
    let f = if timeout > 0 { flags::PERSISTENT } else { 0 };
    Ok(Service {
        key,
        scheduler,
        flags: f,
        timeout,
        netmask,
    })
}

fn dest(args: &[String]) -> Result<Dest, (i32, String)> {
    let upper = match args.get(3) {
        Some(u) => parse("upper threshold", u)?,
        None => 0,
    };
    let lower = match args.get(4) {
        Some(l) => parse("lower threshold", l)?,
        None => 0,
    };
    Ok(Dest {
        addr: parse::<SocketAddr>("destination", &args[0])?,
        forward: parse_fwd(&args[1])?,
        weight: parse("weight", &args[2])?,
        upper,
        lower,
    })
}

fn ipvs_err(e: IpvsError) -> (i32, String) {
    (e.exit_code(), e.to_string())
}

fn run(args: &[String]) -> Result<(), (i32, String)> {
    let Some(cmd) = args.first() else {
        return usage("no command");
    };
    let rest = &args[1..];
    let need = |n: usize| {
        if rest.len() < n {
            usage(&format!("{cmd} needs {n} arguments"))
        } else {
            Ok(())
        }
    };
    const KNOWN: &[&str] = &[
        "connect",
        "add-service",
        "edit-service",
        "del-service",
        "add-dest",
        "edit-dest",
        "del-dest",
        "dump",
        "start-daemon",
        "stop-daemon",
        "daemons",
    ];
    if !KNOWN.contains(&cmd.as_str()) {
        return usage(&format!("unknown command {cmd:?}"));
    }
    let mut ipvs = NetlinkIpvs::connect().map_err(ipvs_err)?;
    match cmd.as_str() {
        "connect" => println!("ok"),
        "add-service" => {
            need(1)?;
            ipvs.add_service(&service(rest)?).map_err(ipvs_err)?;
        }
        "edit-service" => {
            need(1)?;
            ipvs.edit_service(&service(rest)?).map_err(ipvs_err)?;
        }
        "del-service" => {
            need(1)?;
            ipvs.del_service(&parse_key(&rest[0])?).map_err(ipvs_err)?;
        }
        "add-dest" => {
            need(4)?;
            ipvs.add_dest(&parse_key(&rest[0])?, &dest(&rest[1..])?)
                .map_err(ipvs_err)?;
        }
        "edit-dest" => {
            need(4)?;
            ipvs.edit_dest(&parse_key(&rest[0])?, &dest(&rest[1..])?)
                .map_err(ipvs_err)?;
        }
        "del-dest" => {
            need(2)?;
            let addr = parse::<SocketAddr>("destination", &rest[1])?;
            ipvs.del_dest(&parse_key(&rest[0])?, addr)
                .map_err(ipvs_err)?;
        }
        "dump" => {
            for e in ipvs.dump().map_err(ipvs_err)? {
                let s = &e.service;
                let key = match s.key {
                    ServiceKey::Fwmark { mark, v6: true } => format!("fwm6:{mark}"),
                    k => k.to_string(),
                };
                println!(
                    "service {key} sched={} flags={:#x} timeout={} netmask={:#x}",
                    s.scheduler, s.flags, s.timeout, s.netmask
                );
                for d in &e.dests {
                    let (x, st) = (&d.dest, &d.stats);
                    println!(
                        "  dest {} fwd={} weight={} upper={} lower={} active={} inactive={} \
                         persist={} conns={} inpkts={} outpkts={} inbytes={} outbytes={}",
                        x.addr,
                        x.forward.ldirectord_name(),
                        x.weight,
                        x.upper,
                        x.lower,
                        st.active_conns,
                        st.inactive_conns,
                        st.persist_conns,
                        st.conns,
                        st.inpkts,
                        st.outpkts,
                        st.inbytes,
                        st.outbytes
                    );
                }
            }
        }
        "start-daemon" => {
            need(3)?;
            let d = SyncDaemon {
                state: parse_state(&rest[0])?,
                ifname: rest[1].clone(),
                syncid: parse("sync id", &rest[2])?,
            };
            ipvs.start_sync_daemon(&d).map_err(ipvs_err)?;
        }
        "stop-daemon" => {
            need(1)?;
            ipvs.stop_sync_daemon(parse_state(&rest[0])?)
                .map_err(ipvs_err)?;
        }
        "daemons" => {
            for d in ipvs.sync_daemons().map_err(ipvs_err)? {
                println!(
                    "daemon {:?} ifname={} syncid={}",
                    d.state, d.ifname, d.syncid
                );
            }
        }
        other => return usage(&format!("unknown command {other:?}")),
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, msg)) => {
            eprintln!("ipvs_smoke: {msg}");
            ExitCode::from(code.clamp(1, 255) as u8)
        }
    }
}
