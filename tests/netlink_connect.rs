//! `NetlinkIpvs::connect()` on a kernel without IPVS reports `Unavailable`
//! (exit code 3, the "load the ip_vs module" message), not a panic or a
//! generic transport error.

use ldirectord_rs::ipvs::netlink::NetlinkIpvs;
use ldirectord_rs::ipvs::IpvsError;

#[test]
fn connect_without_ip_vs_is_unavailable() {
    if std::path::Path::new("/proc/net/ip_vs").exists() {
        eprintln!("skipped: this kernel has IPVS loaded (/proc/net/ip_vs exists)");
        return;
    }
    match NetlinkIpvs::connect() {
        Err(e) => {
            assert_eq!(e, IpvsError::Unavailable, "got {e}");
            assert_eq!(e.exit_code(), 3);
            assert!(e.to_string().contains("load the ip_vs module"), "{e}");
        }
        Ok(_) => panic!("connect() succeeded although /proc/net/ip_vs is absent"),
    }
}
