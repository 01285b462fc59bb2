//! Generic-netlink IPVS backend: the kernel's virtual-server table through
//! the "IPVS" generic netlink family.
//!
//! [`wire`] builds every request payload and decodes every reply, pure;
//! this module only moves those bytes over one long-lived neli [`NlRouter`]
//! (requests with `NLM_F_ACK`, dumps with `NLM_F_DUMP`) and maps kernel
//! errnos to [`IpvsError`]. The socket sits behind the small [`Transport`]
//! trait so the request/reply logic is testable with a scripted fake.

pub mod wire;

use std::net::SocketAddr;

use neli::{
    consts::{nl::NlmF, socket::NlFamily},
    err::RouterError,
    nl::NlPayload,
    router::synchronous::NlRouter,
    types::Buffer,
    utils::Groups,
};

use super::*;
use wire::{GenlRequest, RequestKind, WireError};

/// Why a request failed below the IPVS layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    /// The kernel answered with this (positive) errno.
    Errno(i32),
    /// Anything else: socket trouble, a malformed reply.
    Other(String),
}

/// Moves request payloads to the kernel and brings reply payloads back.
pub trait Transport: Send {
    /// Sends one request. For [`RequestKind::Ack`] returns no payloads on success;
    /// for [`RequestKind::Dump`] returns every reply's generic netlink payload
    /// (genl header + attributes), in order.
    fn request(&mut self, req: &GenlRequest) -> Result<Vec<Vec<u8>>, TransportError>;
}

/// The real transport: one long-lived neli router on a NETLINK_GENERIC
/// socket. After a socket-level failure (anything but a kernel error
/// reply) the router is dropped and the next request opens a fresh one, so
/// stray replies of an interrupted exchange never reach a later request;
/// a dump that fails that way is retried once on the fresh socket (dumps
/// change nothing, so that is safe; commands are not retried).
pub struct NeliTransport {
    router: Option<(NlRouter, u16)>,
}

/// The errno of a kernel error reply (`Nlmsgerr`) or, with `io`, of a
/// socket I/O error.
fn router_errno<T, P>(e: &RouterError<T, P>, io: bool) -> Option<i32> {
    match e {
        RouterError::Nlmsgerr(m) => Some(-*m.error()),
        RouterError::Socket(neli::err::SocketError::Io(err)) if io => err.raw_os_error(),
        _ => None,
    }
}

/// A kernel error reply becomes its errno; anything else is a transport
/// failure that invalidates the socket.
fn router_error<T, P>(e: RouterError<T, P>) -> TransportError
where
    RouterError<T, P>: std::fmt::Display,
{
    match router_errno(&e, false) {
        Some(n) if n > 0 => TransportError::Errno(n),
        _ => TransportError::Other(e.to_string()),
    }
}

fn open_router() -> Result<(NlRouter, u16), IpvsError> {
    let (router, _mcast) = NlRouter::connect(NlFamily::Generic, None, Groups::empty()).map_err(
        |e| match router_errno(&e, true) {
            Some(libc::EPERM) | Some(libc::EACCES) => IpvsError::Permission,
            _ => IpvsError::Transport(format!("opening a generic netlink socket: {e}")),
        },
    )?;
    let family =
        router
            .resolve_genl_family(wire::GENL_NAME)
            .map_err(|e| match router_errno(&e, true) {
                Some(libc::ENOENT) => IpvsError::Unavailable,
                Some(libc::EPERM) | Some(libc::EACCES) => IpvsError::Permission,
                // neli's own "family was not found" (a reply without an id).
                None if matches!(e, RouterError::Msg(_)) => IpvsError::Unavailable,
                _ => IpvsError::Transport(format!("resolving the IPVS netlink family: {e}")),
            })?;
    Ok((router, family))
}

impl NeliTransport {
    /// Opens the socket and resolves the "IPVS" family.
    pub fn connect() -> Result<Self, IpvsError> {
        Ok(NeliTransport {
            router: Some(open_router()?),
        })
    }

    fn once(&mut self, req: &GenlRequest) -> Result<Vec<Vec<u8>>, TransportError> {
        if self.router.is_none() {
            self.router = Some(open_router().map_err(|e| TransportError::Other(e.to_string()))?);
        }
        let Some((router, family)) = self.router.as_ref() else {
            return Err(TransportError::Other("no netlink socket".into()));
        };
        let result = exchange(router, *family, req);
        if let Err(TransportError::Other(_)) = result {
            self.router = None;
        }
        result
    }
}

/// One request and all its replies.
fn exchange(
    router: &NlRouter,
    family: u16,
    req: &GenlRequest,
) -> Result<Vec<Vec<u8>>, TransportError> {
    let flags = match req.kind {
        RequestKind::Ack => NlmF::ACK,
        RequestKind::Dump => NlmF::DUMP,
    };
    let recv = router
        .send::<u16, Buffer, u16, Buffer>(
            family,
            flags,
            NlPayload::Payload(Buffer::from(req.payload.clone())),
        )
        .map_err(router_error)?;
    let mut out = Vec::new();
    for msg in recv {
        let msg = msg.map_err(router_error)?;
        match msg.nl_payload() {
            NlPayload::Payload(p) => {
                // NLMSG_DONE without MULTI parses as a payload: skip it.
                if *msg.nl_type() == libc::NLMSG_DONE as u16 {
                    continue;
                }
                if req.kind == RequestKind::Dump {
                    out.push(p.as_ref().to_vec());
                }
            }
            NlPayload::Err(e) => {
                let n = -*e.error();
                return Err(if n > 0 {
                    TransportError::Errno(n)
                } else {
                    TransportError::Other(format!("netlink error {}", e.error()))
                });
            }
            NlPayload::DumpExtAck(e) if *e.error() != 0 => {
                return Err(TransportError::Errno(-*e.error()));
            }
            NlPayload::Ack(_) | NlPayload::DumpExtAck(_) | NlPayload::Empty => {}
        }
    }
    Ok(out)
}

impl Transport for NeliTransport {
    fn request(&mut self, req: &GenlRequest) -> Result<Vec<Vec<u8>>, TransportError> {
        match self.once(req) {
            Err(TransportError::Other(m)) if req.kind == RequestKind::Dump => {
                tracing::debug!("IPVS dump failed on the socket ({m}); retrying on a fresh one");
                self.once(req)
            }
            r => r,
        }
    }
}

/// The kernel backend.
pub struct NetlinkIpvs {
    transport: Box<dyn Transport>,
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
    pub fn with_transport(transport: Box<dyn Transport>) -> Self {
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
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};

    type Script = VecDeque<Result<Vec<Vec<u8>>, TransportError>>;

    /// A scripted kernel: answers each request with the next scripted reply
    /// and records what was sent.
    struct Fake {
        script: Arc<Mutex<Script>>,
        sent: Arc<Mutex<Vec<GenlRequest>>>,
    }

    impl Transport for Fake {
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
                assert!(m.contains("scheduler name is too long"), "{m}")
            }
            other => panic!("{other:?}"),
        }
        // Nothing was sent for the unsendable service.
        assert_eq!(sent.lock().unwrap().len(), 1);
    }

    /// The neli layer adds exactly a 16-byte nlmsghdr in front of the wire
    /// payload: no padding, no extra header, DUMP flags for dumps.
    #[cfg(target_endian = "little")]
    #[test]
    fn golden_full_dest_dump_message_through_neli() {
        use neli::nl::NlmsghdrBuilder;
        use neli::ToBytes;
        let req = wire::get_dests(&key());
        let msg = NlmsghdrBuilder::default()
            .nl_type(0x1cu16)
            .nl_flags(NlmF::REQUEST | NlmF::DUMP)
            .nl_seq(5)
            .nl_pid(0x1234)
            .nl_payload(NlPayload::<u16, Buffer>::Payload(Buffer::from(
                req.payload.clone(),
            )))
            .build()
            .unwrap();
        let mut c = std::io::Cursor::new(Vec::new());
        msg.to_bytes(&mut c).unwrap();
        let mut want = vec![
            0x44, 0, 0, 0, // nlmsg_len = 16 + 4 + 48 = 68
            0x1c, 0, // nlmsg_type = the resolved family id
            0x01, 0x03, // NLM_F_REQUEST | NLM_F_DUMP (0x300)
            5, 0, 0, 0, // seq
            0x34, 0x12, 0, 0, // pid
        ];
        want.extend_from_slice(&req.payload);
        assert_eq!(c.into_inner(), want);
    }

    #[test]
    fn strerror_has_no_rust_suffix() {
        assert_eq!(strerror(libc::EINVAL), "Invalid argument");
        assert_eq!(strerror(libc::EEXIST), "File exists");
    }
}
