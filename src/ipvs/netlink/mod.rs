//! Generic-netlink IPVS backend (placeholder until the netlink issue lands).

use super::*;

/// The kernel backend.
pub struct NetlinkIpvs {
    _private: (),
}

impl NetlinkIpvs {
    pub fn connect() -> Result<Self, IpvsError> {
        Err(IpvsError::Transport("the netlink backend is not implemented yet".into()))
    }
}
