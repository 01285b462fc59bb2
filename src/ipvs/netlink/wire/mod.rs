//! The IPVS generic-netlink wire format, pure: constants from
//! `include/uapi/linux/ip_vs.h`, the encoding of every request's generic
//! netlink payload (the 4-byte genl header followed by the attributes), and
//! the decoding of dumped services, destinations and sync daemons.
//!
//! Nothing here touches a socket; `super::transport` wraps these bytes in a
//! netlink header and sends them. That split is what makes the golden-byte
//! tests (`tests.rs`, next to this file) possible.
//!
//! Encoding rules (checked against the kernel's `ip_vs_ctl.c` policies and
//! ipvsadm's libipvs):
//! - Attribute payloads are native-endian, except the ports (`__be16`) and
//!   the IPv4 persistence netmask (`__be32`), which are network order.
//! - Addresses are sent as 16 bytes (`union nf_inet_addr`); an IPv4 address
//!   fills the first 4 bytes, the rest are zero.
//! - `SVC_ATTR_FLAGS` is `struct ip_vs_flags { u32 flags; u32 mask; }`; the
//!   mask is always 0xFFFFFFFF, and HASHED is never sent (the kernel refuses
//!   to hash a service that already claims to be hashed).
//! - `SVC_ATTR_NETMASK` for AF_INET6 is the prefix length as a native u32.
//! - `SVC_ATTR_SCHED_NAME` and `DAEMON_ATTR_MCAST_IFN` are NUL-terminated.
//! - Nested attributes carry `NLA_F_NESTED`.
//!
//! Layout: [`consts`] (the uapi numbers), [`encode`] (requests), [`decode`]
//! (dump replies); the kernel-side reply encoders the tests and fakes use
//! are in `replies`, compiled for tests only.

pub mod consts;
pub mod decode;
pub mod encode;
#[cfg(test)]
mod proptests;
#[cfg(test)]
pub mod replies;
#[cfg(test)]
mod tests;

use std::fmt;

pub use consts::*;
pub use decode::{
    decode_daemon_attrs, decode_daemon_msg, decode_dest_attrs, decode_dest_msg,
    decode_service_attrs, decode_service_msg, split_genl, Attrs,
};
pub use encode::{
    addr_bytes, del_daemon, del_dest, del_service, flags_bytes, get_daemons, get_dests,
    get_services, netmask_bytes, new_daemon, new_dest, new_service, set_dest, set_service,
    state_number,
};

/// How a request is sent: acknowledged, or as a dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// `NLM_F_REQUEST | NLM_F_ACK`.
    Ack,
    /// `NLM_F_REQUEST | NLM_F_DUMP`.
    Dump,
}

/// One request: the generic netlink payload (genl header + attributes) and
/// how to send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenlRequest {
    pub cmd: u8,
    pub kind: RequestKind,
    pub payload: Vec<u8>,
}

/// A malformed or unexpected reply, or a value the wire cannot carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireError {
    /// Fewer bytes than a header or length field announced.
    Truncated(&'static str),
    /// A required attribute is absent.
    Missing(&'static str),
    /// An attribute has the wrong payload size.
    BadLength {
        attr: &'static str,
        len: usize,
    },
    UnknownFamily(u16),
    UnknownProtocol(u16),
    UnknownForward(u32),
    UnknownState(u32),
    /// A string attribute that is too long to send.
    TooLong {
        attr: &'static str,
        max: usize,
    },
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::Truncated(what) => write!(f, "truncated {what}"),
            WireError::Missing(what) => write!(f, "attribute {what} missing"),
            WireError::BadLength { attr, len } => {
                write!(f, "attribute {attr} has a bad length ({len} bytes)")
            }
            WireError::UnknownFamily(af) => write!(f, "unknown address family {af}"),
            WireError::UnknownProtocol(p) => write!(f, "unknown protocol number {p}"),
            WireError::UnknownForward(m) => write!(f, "unknown forwarding method {m}"),
            WireError::UnknownState(s) => write!(f, "unknown sync daemon state {s}"),
            WireError::TooLong { attr, max } => {
                write!(f, "{attr} is too long (at most {max} bytes)")
            }
        }
    }
}

impl std::error::Error for WireError {}
