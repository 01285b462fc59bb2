//! The socket under the netlink backend: the [`NetlinkTransport`] seam
//! (request payloads out, reply payloads back) and its real implementation,
//! one long-lived neli router that reconnects after a socket failure and
//! retries a failed dump once.

use neli::{
    consts::{nl::NlmF, socket::NlFamily},
    err::RouterError,
    nl::NlPayload,
    router::synchronous::NlRouter,
    types::Buffer,
    utils::Groups,
};

use super::wire::{self, GenlRequest, RequestKind};
use crate::ipvs::IpvsError;

/// Why a request failed below the IPVS layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    /// The kernel answered with this (positive) errno.
    Errno(i32),
    /// Anything else: socket trouble, a malformed reply.
    Other(String),
}

/// Moves request payloads to the kernel and brings reply payloads back.
pub trait NetlinkTransport: Send {
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
            Some(libc::EPERM | libc::EACCES) => IpvsError::Permission,
            _ => IpvsError::Transport(format!("opening a generic netlink socket: {e}")),
        },
    )?;
    let family =
        router
            .resolve_genl_family(wire::GENL_NAME)
            .map_err(|e| match router_errno(&e, true) {
                Some(libc::ENOENT) => IpvsError::Unavailable,
                Some(libc::EPERM | libc::EACCES) => IpvsError::Permission,
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

impl NetlinkTransport for NeliTransport {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipvs::types::{Protocol, ServiceKey};

    fn key() -> ServiceKey {
        ServiceKey::Inet {
            proto: Protocol::Tcp,
            addr: "10.0.0.100:80".parse().unwrap(),
        }
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
}
