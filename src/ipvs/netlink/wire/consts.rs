//! Constants of the IPVS generic netlink family, from
//! `include/uapi/linux/ip_vs.h` and the netlink headers.

/// Generic netlink family name and version.
pub const GENL_NAME: &str = "IPVS";
pub const GENL_VERSION: u8 = 1;

pub const AF_INET: u16 = 2;
pub const AF_INET6: u16 = 10;

/// Attribute header flags and type mask.
pub const NLA_F_NESTED: u16 = 0x8000;
pub const NLA_F_NET_BYTEORDER: u16 = 0x4000;
pub const NLA_TYPE_MASK: u16 = !(NLA_F_NESTED | NLA_F_NET_BYTEORDER);
/// Size of `struct nlattr`.
pub const NLA_HDRLEN: usize = 4;
/// Size of `struct genlmsghdr`.
pub const GENL_HDRLEN: usize = 4;

/// `IPVS_CMD_*`.
pub mod cmd {
    pub const NEW_SERVICE: u8 = 1;
    pub const SET_SERVICE: u8 = 2;
    pub const DEL_SERVICE: u8 = 3;
    pub const GET_SERVICE: u8 = 4;
    pub const NEW_DEST: u8 = 5;
    pub const SET_DEST: u8 = 6;
    pub const DEL_DEST: u8 = 7;
    pub const GET_DEST: u8 = 8;
    pub const NEW_DAEMON: u8 = 9;
    pub const DEL_DAEMON: u8 = 10;
    pub const GET_DAEMON: u8 = 11;
}

/// `IPVS_CMD_ATTR_*` (first level).
pub mod cmd_attr {
    pub const SERVICE: u16 = 1;
    pub const DEST: u16 = 2;
    pub const DAEMON: u16 = 3;
}

/// `IPVS_SVC_ATTR_*` (inside `CMD_ATTR_SERVICE`).
pub mod svc_attr {
    pub const AF: u16 = 1;
    pub const PROTOCOL: u16 = 2;
    pub const ADDR: u16 = 3;
    pub const PORT: u16 = 4;
    pub const FWMARK: u16 = 5;
    pub const SCHED_NAME: u16 = 6;
    pub const FLAGS: u16 = 7;
    pub const TIMEOUT: u16 = 8;
    pub const NETMASK: u16 = 9;
    pub const STATS: u16 = 10;
    pub const PE_NAME: u16 = 11;
    pub const STATS64: u16 = 12;
}

/// `IPVS_DEST_ATTR_*` (inside `CMD_ATTR_DEST`).
pub mod dest_attr {
    pub const ADDR: u16 = 1;
    pub const PORT: u16 = 2;
    pub const FWD_METHOD: u16 = 3;
    pub const WEIGHT: u16 = 4;
    pub const U_THRESH: u16 = 5;
    pub const L_THRESH: u16 = 6;
    pub const ACTIVE_CONNS: u16 = 7;
    pub const INACT_CONNS: u16 = 8;
    pub const PERSIST_CONNS: u16 = 9;
    pub const STATS: u16 = 10;
    pub const ADDR_FAMILY: u16 = 11;
    pub const STATS64: u16 = 12;
    pub const TUN_TYPE: u16 = 13;
    pub const TUN_PORT: u16 = 14;
    pub const TUN_FLAGS: u16 = 15;
}

/// `IPVS_DAEMON_ATTR_*` (inside `CMD_ATTR_DAEMON`).
pub mod daemon_attr {
    pub const STATE: u16 = 1;
    pub const MCAST_IFN: u16 = 2;
    pub const SYNC_ID: u16 = 3;
}

/// `IPVS_STATS_ATTR_*` (inside `*_ATTR_STATS` and `*_ATTR_STATS64`).
pub mod stats_attr {
    pub const CONNS: u16 = 1;
    pub const INPKTS: u16 = 2;
    pub const OUTPKTS: u16 = 3;
    pub const INBYTES: u16 = 4;
    pub const OUTBYTES: u16 = 5;
}

/// `IP_VS_STATE_*` of a sync daemon.
pub const STATE_MASTER: u32 = 1;
pub const STATE_BACKUP: u32 = 2;

/// `IP_VS_CONN_F_FWD_MASK`.
pub const CONN_F_FWD_MASK: u32 = 0x0007;

/// `IP_VS_SCHEDNAME_MAXLEN` and `IP_VS_IFNAME_MAXLEN` (both include the NUL).
pub const SCHEDNAME_MAXLEN: usize = 16;
pub const IFNAME_MAXLEN: usize = 16;

/// The `AF_*` number of an address family (`v6` false = AF_INET).
pub fn family(v6: bool) -> u16 {
    if v6 {
        AF_INET6
    } else {
        AF_INET
    }
}
