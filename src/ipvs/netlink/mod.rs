//! Generic-netlink IPVS backend: the kernel's virtual-server table through
//! the "IPVS" generic netlink family.
//!
//! [`wire`] builds every request payload and decodes every reply, pure;
//! [`transport`] moves those bytes over one long-lived neli socket
//! (requests with `NLM_F_ACK`, dumps with `NLM_F_DUMP`). This module sits
//! between them: it turns each [`Ipvs`] call into its wire request and maps
//! kernel errnos to [`IpvsError`] naming the subject. The socket sits behind
//! the small [`NetlinkTransport`] trait so the request/reply logic is
//! testable with a scripted fake.

pub mod transport;
pub mod wire;

use std::net::SocketAddr;

pub use transport::{NeliTransport, NetlinkTransport, TransportError};
use wire::{GenlRequest, WireError};

use super::types::{Dest, DestEntry, Service, ServiceEntry, ServiceKey, SyncDaemon, SyncState};
use super::{Ipvs, IpvsError};

/// The kernel backend.
pub struct NetlinkIpvs {
    transport: Box<dyn NetlinkTransport>,
}

/// What a failed operation was about, for the error's `what`.
enum Subject<'a> {
    Service(&'a ServiceKey),
    Scheduler(&'a Service),
    Dest(&'a ServiceKey, &'a SocketAddr),
    Daemon(SyncState),
    Table,
}

/// `strerror(errno)` without Rust's " (os error N)" suffix.
fn strerror(errno: i32) -> String {
    let s = std::io::Error::from_raw_os_error(errno).to_string();
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Maps a kernel errno to an [`IpvsError`] naming the subject.
fn map_errno(errno: i32, op: &str, subject: &Subject<'_>) -> IpvsError {
    let service_of = |k: &ServiceKey| k.to_string();
    match errno {
        libc::EPERM | libc::EACCES => IpvsError::Permission,
        libc::EEXIST => IpvsError::Exists {
            what: match subject {
                Subject::Service(k) => format!("service {k}"),
                Subject::Scheduler(s) => format!("service {}", s.key),
                Subject::Dest(k, a) => format!("destination {a} in {k}"),
                Subject::Daemon(s) => format!("sync daemon {s:?}"),
                Subject::Table => "entry".to_string(),
            },
        },
        libc::ESRCH => IpvsError::NoService {
            what: match subject {
                Subject::Service(k) | Subject::Dest(k, _) => service_of(k),
                Subject::Scheduler(s) => service_of(&s.key),
                Subject::Daemon(s) => format!("sync daemon {s:?}"),
                Subject::Table => "service".to_string(),
            },
        },
        libc::ENOENT => IpvsError::NotFound {
            what: match subject {
                Subject::Service(k) => format!("service {k}"),
                Subject::Scheduler(s) => {
                    format!("scheduler {} for service {}", s.scheduler, s.key)
                }
                Subject::Dest(k, a) => format!("destination {a} in {k}"),
                Subject::Daemon(s) => format!("sync daemon {s:?}"),
                Subject::Table => "entry".to_string(),
            },
        },
        libc::ERANGE => IpvsError::Range {
            what: match subject {
                Subject::Dest(k, a) => {
                    format!("weight or thresholds of destination {a} in {k}")
                }
                Subject::Service(k) => format!("service {k}"),
                Subject::Scheduler(s) => format!("service {}", s.key),
                Subject::Daemon(s) => format!("sync daemon {s:?}"),
                Subject::Table => "entry".to_string(),
            },
        },
        _ => {
            let about = match subject {
                Subject::Service(k) => format!(" {k}"),
                Subject::Scheduler(s) => format!(" {}", s.key),
                Subject::Dest(k, a) => format!(" {a} in {k}"),
                Subject::Daemon(s) => format!(" {s:?}"),
                Subject::Table => String::new(),
            };
            IpvsError::Kernel {
                op: format!("{op}{about}"),
                errno,
                message: strerror(errno),
            }
        }
    }
}

fn wire_error(op: &str, e: WireError) -> IpvsError {
    IpvsError::Transport(format!("{op}: {e}"))
}

impl NetlinkIpvs {
    /// Opens a generic netlink socket and resolves the IPVS family.
    /// [`IpvsError::Unavailable`] when the kernel has no ip_vs,
    /// [`IpvsError::Permission`] without CAP_NET_ADMIN where that shows.
    pub fn connect() -> Result<Self, IpvsError> {
        Ok(Self::with_transport(Box::new(NeliTransport::connect()?)))
    }

    /// A backend over any transport (tests use a scripted fake).
    pub fn with_transport(transport: Box<dyn NetlinkTransport>) -> Self {
        NetlinkIpvs { transport }
    }

    fn run(
        &mut self,
        op: &str,
        subject: Subject<'_>,
        req: &GenlRequest,
    ) -> Result<Vec<Vec<u8>>, IpvsError> {
        self.transport.request(req).map_err(|e| match e {
            TransportError::Errno(n) => map_errno(n, op, &subject),
            TransportError::Other(m) => IpvsError::Transport(format!("{op}: {m}")),
        })
    }

    /// The destinations of one service.
    pub fn dests(&mut self, key: &ServiceKey) -> Result<Vec<DestEntry>, IpvsError> {
        let replies = self.run(
            "list destinations",
            Subject::Service(key),
            &wire::get_dests(key),
        )?;
        replies
            .iter()
            .map(|p| {
                wire::decode_dest_msg(p, key.is_v6())
                    .map_err(|e| wire_error(&format!("decoding a destination of {key}"), e))
            })
            .collect()
    }

    /// Every service, without destinations.
    pub fn services(&mut self) -> Result<Vec<Service>, IpvsError> {
        let replies = self.run("list services", Subject::Table, &wire::get_services())?;
        let mut out = Vec::with_capacity(replies.len());
        for p in &replies {
            match wire::decode_service_msg(p) {
                Ok(s) => out.push(s),
                // A service of a protocol the model cannot express (none
                // that ipvsadm creates): leave it alone rather than fail
                // every dump.
                Err(WireError::UnknownProtocol(n)) => {
                    tracing::warn!("ignoring an IPVS service of unknown protocol {n}");
                }
                Err(e) => return Err(wire_error("decoding a service", e)),
            }
        }
        Ok(out)
    }
}

impl Ipvs for NetlinkIpvs {
    fn dump(&mut self) -> Result<Vec<ServiceEntry>, IpvsError> {
        let services = self.services()?;
        let mut out = Vec::with_capacity(services.len());
        for service in services {
            let dests = self.dests(&service.key)?;
            out.push(ServiceEntry { service, dests });
        }
        Ok(out)
    }

    fn add_service(&mut self, svc: &Service) -> Result<(), IpvsError> {
        let req = wire::new_service(svc)
            .map_err(|e| wire_error(&format!("add service {}", svc.key), e))?;
        self.run("add service", Subject::Scheduler(svc), &req)
            .map(drop)
    }

    fn edit_service(&mut self, svc: &Service) -> Result<(), IpvsError> {
        let req = wire::set_service(svc)
            .map_err(|e| wire_error(&format!("edit service {}", svc.key), e))?;
        self.run("edit service", Subject::Scheduler(svc), &req)
            .map(drop)
    }

    fn del_service(&mut self, key: &ServiceKey) -> Result<(), IpvsError> {
        self.run(
            "delete service",
            Subject::Service(key),
            &wire::del_service(key),
        )
        .map(drop)
    }

    fn add_dest(&mut self, svc: &ServiceKey, dest: &Dest) -> Result<(), IpvsError> {
        self.run(
            "add destination",
            Subject::Dest(svc, &dest.addr),
            &wire::new_dest(svc, dest),
        )
        .map(drop)
    }

    fn edit_dest(&mut self, svc: &ServiceKey, dest: &Dest) -> Result<(), IpvsError> {
        self.run(
            "edit destination",
            Subject::Dest(svc, &dest.addr),
            &wire::set_dest(svc, dest),
        )
        .map(drop)
    }

    fn del_dest(&mut self, svc: &ServiceKey, addr: SocketAddr) -> Result<(), IpvsError> {
        self.run(
            "delete destination",
            Subject::Dest(svc, &addr),
            &wire::del_dest(svc, &addr),
        )
        .map(drop)
    }

    fn start_sync_daemon(&mut self, d: &SyncDaemon) -> Result<(), IpvsError> {
        let req = wire::new_daemon(d).map_err(|e| wire_error("start sync daemon", e))?;
        self.run("start sync daemon", Subject::Daemon(d.state), &req)
            .map(drop)
    }

    fn stop_sync_daemon(&mut self, state: SyncState) -> Result<(), IpvsError> {
        self.run(
            "stop sync daemon",
            Subject::Daemon(state),
            &wire::del_daemon(state),
        )
        .map(drop)
    }

    fn sync_daemons(&mut self) -> Result<Vec<SyncDaemon>, IpvsError> {
        let replies = self.run("list sync daemons", Subject::Table, &wire::get_daemons())?;
        replies
            .iter()
            .map(|p| {
                wire::decode_daemon_msg(p).map_err(|e| wire_error("decoding a sync daemon", e))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipvs::types::{flags, DestStats, Forward, Protocol};
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};

    type Script = VecDeque<Result<Vec<Vec<u8>>, TransportError>>;

    /// A scripted kernel: answers each request with the next scripted reply
    /// and records what was sent.
    struct Fake {
        script: Arc<Mutex<Script>>,
        sent: Arc<Mutex<Vec<GenlRequest>>>,
    }

    impl NetlinkTransport for Fake {
        fn request(&mut self, req: &GenlRequest) -> Result<Vec<Vec<u8>>, TransportError> {
            self.sent.lock().unwrap().push(req.clone());
            self.script
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or_else(|| Err(TransportError::Other("script exhausted".into())))
        }
    }

    fn fake(
        script: Vec<Result<Vec<Vec<u8>>, TransportError>>,
    ) -> (NetlinkIpvs, Arc<Mutex<Vec<GenlRequest>>>) {
        let sent = Arc::new(Mutex::new(Vec::new()));
        let ipvs = NetlinkIpvs::with_transport(Box::new(Fake {
            script: Arc::new(Mutex::new(script.into())),
            sent: Arc::clone(&sent),
        }));
        (ipvs, sent)
    }

    fn key() -> ServiceKey {
        ServiceKey::Inet {
            proto: Protocol::Tcp,
            addr: "10.0.0.100:80".parse().unwrap(),
        }
    }

    fn svc() -> Service {
        Service {
            key: key(),
            scheduler: "wlc".into(),
            flags: 0,
            timeout: 0,
            netmask: 0xFFFF_FFFF,
        }
    }

    fn dest() -> Dest {
        Dest {
            addr: "192.168.1.10:80".parse().unwrap(),
            forward: Forward::Masq,
            weight: 1,
            upper: 0,
            lower: 0,
        }
    }

    #[test]
    fn each_call_sends_its_wire_request() {
        let (mut ipvs, sent) = fake(vec![Ok(vec![]); 9]);
        let d = SyncDaemon {
            state: SyncState::Master,
            ifname: "eth0".into(),
            syncid: 1,
        };
        ipvs.add_service(&svc()).unwrap();
        ipvs.edit_service(&svc()).unwrap();
        ipvs.add_dest(&key(), &dest()).unwrap();
        ipvs.edit_dest(&key(), &dest()).unwrap();
        ipvs.del_dest(&key(), dest().addr).unwrap();
        ipvs.del_service(&key()).unwrap();
        ipvs.start_sync_daemon(&d).unwrap();
        ipvs.stop_sync_daemon(SyncState::Master).unwrap();
        assert_eq!(ipvs.sync_daemons().unwrap(), vec![]);
        let want = vec![
            wire::new_service(&svc()).unwrap(),
            wire::set_service(&svc()).unwrap(),
            wire::new_dest(&key(), &dest()),
            wire::set_dest(&key(), &dest()),
            wire::del_dest(&key(), &dest().addr),
            wire::del_service(&key()),
            wire::new_daemon(&d).unwrap(),
            wire::del_daemon(SyncState::Master),
            wire::get_daemons(),
        ];
        assert_eq!(*sent.lock().unwrap(), want);
    }

    #[test]
    fn dump_lists_services_then_each_services_dests() {
        let fwm = Service {
            key: ServiceKey::Fwmark { mark: 7, v6: true },
            scheduler: "rr".into(),
            flags: flags::PERSISTENT,
            timeout: 60,
            netmask: 64,
        };
        let d1 = DestEntry {
            dest: dest(),
            stats: DestStats {
                active_conns: 3,
                conns: 10,
                ..Default::default()
            },
        };
        let d2 = DestEntry {
            dest: Dest {
                addr: "[2001:db8::2]:0".parse().unwrap(),
                forward: Forward::Route,
                weight: 0,
                upper: 0,
                lower: 0,
            },
            stats: DestStats::default(),
        };
        let (mut ipvs, sent) = fake(vec![
            Ok(vec![
                wire::replies::encode_service_reply(&svc(), flags::HASHED),
                wire::replies::encode_service_reply(&fwm, flags::HASHED),
            ]),
            Ok(vec![wire::replies::encode_dest_reply(&d1)]),
            Ok(vec![wire::replies::encode_dest_reply(&d2)]),
        ]);
        let got = ipvs.dump().unwrap();
        assert_eq!(
            got,
            vec![
                ServiceEntry {
                    service: svc(),
                    dests: vec![d1]
                },
                ServiceEntry {
                    service: fwm.clone(),
                    dests: vec![d2]
                },
            ]
        );
        assert_eq!(
            *sent.lock().unwrap(),
            vec![
                wire::get_services(),
                wire::get_dests(&key()),
                wire::get_dests(&fwm.key)
            ]
        );
    }

    #[test]
    fn dump_skips_unknown_protocols_but_fails_on_garbage() {
        let mut w = vec![wire::cmd::NEW_SERVICE, 1, 0, 0];
        // CMD_ATTR_SERVICE { AF=2, PROTOCOL=33 (dccp) }
        w.extend_from_slice(&20u16.to_ne_bytes());
        w.extend_from_slice(&(wire::cmd_attr::SERVICE | wire::NLA_F_NESTED).to_ne_bytes());
        for (ty, v) in [(wire::svc_attr::AF, 2u16), (wire::svc_attr::PROTOCOL, 33)] {
            w.extend_from_slice(&6u16.to_ne_bytes());
            w.extend_from_slice(&ty.to_ne_bytes());
            w.extend_from_slice(&v.to_ne_bytes());
            w.extend_from_slice(&[0, 0]);
        }
        let (mut ipvs, _) = fake(vec![Ok(vec![w])]);
        assert_eq!(ipvs.dump().unwrap(), vec![]);
        let (mut ipvs, _) = fake(vec![Ok(vec![vec![4, 1, 0, 0, 9, 9]])]);
        match ipvs.dump() {
            Err(IpvsError::Transport(m)) => assert!(m.contains("decoding a service"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errnos_map_to_errors_naming_the_subject() {
        let e = |n| Err(TransportError::Errno(n));
        let (mut ipvs, _) = fake(vec![
            e(libc::EEXIST),
            e(libc::ENOENT),
            e(libc::EEXIST),
            e(libc::ESRCH),
            e(libc::ENOENT),
            e(libc::ERANGE),
            e(libc::EPERM),
            e(libc::EACCES),
            e(libc::EINVAL),
            e(libc::ESRCH),
            e(libc::EEXIST),
        ]);
        assert_eq!(
            ipvs.add_service(&svc()),
            Err(IpvsError::Exists {
                what: "service tcp:10.0.0.100:80".into()
            })
        );
        assert_eq!(
            ipvs.add_service(&svc()),
            Err(IpvsError::NotFound {
                what: "scheduler wlc for service tcp:10.0.0.100:80".into()
            })
        );
        assert_eq!(
            ipvs.add_dest(&key(), &dest()),
            Err(IpvsError::Exists {
                what: "destination 192.168.1.10:80 in tcp:10.0.0.100:80".into()
            })
        );
        assert_eq!(
            ipvs.add_dest(&key(), &dest()),
            Err(IpvsError::NoService {
                what: "tcp:10.0.0.100:80".into()
            })
        );
        assert_eq!(
            ipvs.del_dest(&key(), dest().addr),
            Err(IpvsError::NotFound {
                what: "destination 192.168.1.10:80 in tcp:10.0.0.100:80".into()
            })
        );
        assert_eq!(
            ipvs.edit_dest(&key(), &dest()),
            Err(IpvsError::Range {
                what: "weight or thresholds of destination 192.168.1.10:80 in tcp:10.0.0.100:80"
                    .into()
            })
        );
        assert_eq!(ipvs.del_service(&key()), Err(IpvsError::Permission));
        assert_eq!(ipvs.dump(), Err(IpvsError::Permission));
        assert_eq!(
            ipvs.edit_service(&svc()),
            Err(IpvsError::Kernel {
                op: "edit service tcp:10.0.0.100:80".into(),
                errno: libc::EINVAL,
                message: "Invalid argument".into(),
            })
        );
        assert_eq!(
            ipvs.del_service(&key()),
            Err(IpvsError::NoService {
                what: "tcp:10.0.0.100:80".into()
            })
        );
        let d = SyncDaemon {
            state: SyncState::Backup,
            ifname: "eth0".into(),
            syncid: 1,
        };
        assert_eq!(
            ipvs.start_sync_daemon(&d),
            Err(IpvsError::Exists {
                what: "sync daemon Backup".into()
            })
        );
    }

    #[test]
    fn transport_failures_and_unsendable_values_are_transport_errors() {
        let (mut ipvs, sent) = fake(vec![Err(TransportError::Other("socket closed".into()))]);
        assert_eq!(
            ipvs.del_service(&key()),
            Err(IpvsError::Transport("delete service: socket closed".into()))
        );
        let mut long = svc();
        long.scheduler = "a-very-long-scheduler".into();
        match ipvs.add_service(&long) {
            Err(IpvsError::Transport(m)) => {
                assert!(m.contains("scheduler name is too long"), "{m}");
            }
            other => panic!("{other:?}"),
        }
        // Nothing was sent for the unsendable service.
        assert_eq!(sent.lock().unwrap().len(), 1);
    }

    #[test]
    fn strerror_has_no_rust_suffix() {
        assert_eq!(strerror(libc::EINVAL), "Invalid argument");
        assert_eq!(strerror(libc::EEXIST), "File exists");
    }
}
