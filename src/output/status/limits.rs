//! The status listener's limits: who may connect, how many connections at
//! once, and how long each may take. The connection cap is derived from the
//! open-files limit so that status clients can never take the files the
//! checks need: a check that cannot open a socket would otherwise show a
//! healthy real as down.

use crate::config::{CheckType, Cidr, Config};
use std::net::IpAddr;
use std::time::Duration;

/// Longest a client may take to send a request's headers; also how long an
/// idle keep-alive connection is kept (hyper restarts the timer when it
/// waits for the next request).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest a reply may wait for a client that does not read.
pub const WRITE_STALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest any connection lives, however it behaves (a slow reader that
/// keeps the write going byte by byte).
pub const CONNECTION_DEADLINE: Duration = Duration::from_secs(30);
/// How long a request waits for the director (a frozen director: 503).
pub const DIRECTOR_TIMEOUT: Duration = Duration::from_secs(5);
/// hyper's read buffer per connection (a request's headers must fit) and
/// the most it buffers for writing; a reply's body is not copied (it is the
/// one rendering every client shares).
pub const MAX_BUF: usize = 16 * 1024;
/// Open files kept for everything but checks and status connections: the
/// log and monitor files, the runtime, netlink, the listener, children's
/// pipes, mail.
pub const FIXED_FILES: u64 = 64;
/// Status connections at most, however high the open-files limit.
pub const MAX_CONNECTIONS: usize = 512;
/// Status connections at least, however low the limit (with a warning at
/// start when the limit does not cover the checks).
pub const MIN_CONNECTIONS: usize = 4;
/// Open files one external check may hold (three pipes and the child).
const EXTERNAL_CHECK_FILES: u64 = 4;

/// What the status listener enforces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Open connections at most; at the cap, a new connection closes the
    /// oldest one.
    pub max_connections: usize,
    /// Peers allowed besides loopback ones (`statusallow=`).
    pub allow: Vec<Cidr>,
}

impl Limits {
    /// The connection cap under the open-files limit `nofile`, keeping
    /// `check_files` (see [`check_files`]) and [`FIXED_FILES`] for the rest.
    pub fn new(nofile: u64, check_files: u64, allow: Vec<Cidr>) -> Limits {
        let spare = nofile.saturating_sub(check_files.saturating_add(FIXED_FILES));
        let max_connections =
            usize::try_from(spare).map_or(MAX_CONNECTIONS, |s| s.min(MAX_CONNECTIONS));
        Limits {
            max_connections: max_connections.max(MIN_CONNECTIONS),
            allow,
        }
    }

    /// Whether a peer may connect: loopback peers always (a local user can
    /// reach every address of the host anyway, and `ldirectord-rs status`
    /// connects from loopback), others when `statusallow` lists them.
    pub fn allows(&self, peer: IpAddr) -> bool {
        peer.to_canonical().is_loopback() || self.allow.iter().any(|n| n.contains(peer))
    }
}

/// Open files the checks of `config` may hold at once: one socket per check
/// in flight (`maxchecks`, or fewer when there are fewer reals), more when
/// external checks are used.
pub fn check_files(config: &Config) -> u64 {
    let reals: usize = config.virtuals.iter().map(|v| v.reals.len()).sum();
    let in_flight = config.global.maxchecks.min(reals) as u64;
    let external = config
        .virtuals
        .iter()
        .any(|v| v.check.checktype == CheckType::External);
    in_flight.saturating_mul(if external { EXTERNAL_CHECK_FILES } else { 1 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_keeps_the_checks_files() {
        // 1024 files, 64 checks: 1024 - 64 - 64.
        assert_eq!(
            Limits::new(1024, 64, vec![]).max_connections,
            896.min(MAX_CONNECTIONS)
        );
        assert_eq!(Limits::new(256, 32, vec![]).max_connections, 160);
        // A high limit: the fixed cap.
        assert_eq!(
            Limits::new(1 << 20, 4096, vec![]).max_connections,
            MAX_CONNECTIONS
        );
        // A limit the checks already exhaust: the floor.
        assert_eq!(
            Limits::new(100, 4096, vec![]).max_connections,
            MIN_CONNECTIONS
        );
        assert_eq!(
            Limits::new(0, u64::MAX, vec![]).max_connections,
            MIN_CONNECTIONS
        );
    }

    #[test]
    fn loopback_always_others_when_listed() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let none = Limits::new(1024, 0, vec![]);
        assert!(none.allows(ip("127.0.0.1")) && none.allows(ip("127.9.9.9")));
        assert!(none.allows(ip("::1")) && none.allows(ip("::ffff:127.0.0.1")));
        assert!(!none.allows(ip("192.0.2.1")));
        let net = Cidr {
            addr: ip("192.0.2.0"),
            prefix: 24,
        };
        let some = Limits::new(1024, 0, vec![net]);
        assert!(some.allows(ip("192.0.2.77")) && some.allows(ip("::ffff:192.0.2.1")));
        assert!(!some.allows(ip("192.0.3.1")));
    }

    #[test]
    fn external_checks_hold_more_files() {
        let mut text = String::from("maxchecks=10\nvirtual=127.0.0.1:80\n");
        for i in 1..=20 {
            text.push_str(&format!("\treal=127.0.0.{i}:80 masq\n"));
        }
        let tcp = crate::config::cf::parse(std::path::Path::new("t.cf"), &text).unwrap();
        assert_eq!(check_files(&tcp), 10);
        text.push_str("\tchecktype=external\n");
        let ext = crate::config::cf::parse(std::path::Path::new("t.cf"), &text).unwrap();
        assert_eq!(check_files(&ext), 40);
        let few = crate::config::cf::parse(
            std::path::Path::new("t.cf"),
            "virtual=127.0.0.1:80\n\treal=127.0.0.2:80 masq\n",
        )
        .unwrap();
        assert_eq!(check_files(&few), 1);
    }
}
