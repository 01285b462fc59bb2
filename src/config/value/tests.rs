//! Unit tests of the value grammar.

use super::*;
use crate::config::types::Forward;
use std::time::Duration;

#[test]
fn durations() {
    assert_eq!(parse_duration("5"), Ok(Duration::from_secs(5)));
    assert_eq!(parse_duration("0.5"), Ok(Duration::from_millis(500)));
    assert_eq!(parse_duration("0.1"), Ok(Duration::from_millis(100)));
    assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
    assert_eq!(parse_duration("1m 30s"), Ok(Duration::from_secs(90)));
    assert!(parse_duration("0").is_err());
    assert!(parse_duration("abc").is_err());
    assert!(parse_duration("1.2.3").is_err());
    assert!(parse_duration("-1").is_err());
}

#[test]
fn hosts_and_ports() {
    assert_eq!(
        parse_host("localhost", false),
        Ok("127.0.0.1".parse().unwrap())
    );
    assert_eq!(parse_host("localhost", true), Ok("::1".parse().unwrap()));
    // A name is taken, to be resolved when the config is loaded.
    assert_eq!(
        parse_host("web1.example.com", false),
        Ok(Host::Name("web1.example.com".into()))
    );
    assert_eq!(parse_host("db_1", false), Ok(Host::Name("db_1".into())));
    assert!(parse_host("::1", false).unwrap_err().contains("IPv6"));
    assert!(parse_host("300.1.1.1", false)
        .unwrap_err()
        .contains("invalid IP address"));
    assert_eq!(
        parse_host_port("[2001:db8::1]:80", true),
        Ok(("2001:db8::1".parse().unwrap(), Some(80)))
    );
    assert_eq!(
        parse_host_port("2001:db8::1", true),
        Ok(("2001:db8::1".parse().unwrap(), None))
    );
    assert_eq!(
        parse_host_port("10.0.0.1:http", false),
        Ok(("10.0.0.1".parse().unwrap(), Some(80)))
    );
    assert!(parse_port("70000").is_err());
    assert!(parse_port("nosuch").is_err());
}

#[test]
fn reals() {
    let r = parse_real("10.0.0.2:80 gate", false).unwrap();
    assert_eq!((r.port, r.forward, r.weight), (Some(80), Forward::Route, 1));
    let r = parse_real(
        r#"10.0.0.2->10.0.0.4 masq 3 "a.html", "x y" l:2 u:10"#,
        false,
    )
    .unwrap();
    assert_eq!(r.last, Some("10.0.0.4".parse().unwrap()));
    assert_eq!(r.port, None);
    assert_eq!(
        (r.forward, r.weight, r.lower, r.upper),
        (Forward::Masq, 3, 2, 10)
    );
    assert_eq!(
        (r.request.as_deref(), r.receive.as_deref()),
        (Some("a.html"), Some("x y"))
    );
    assert!(parse_real("10.0.0.2:80", false)
        .unwrap_err()
        .contains("missing forward method"));
    assert!(parse_real("10.0.0.2:80 route", false)
        .unwrap_err()
        .contains("gate, masq or ipip"));
    assert!(parse_real("10.0.0.2:80 gate 1 junk", false)
        .unwrap_err()
        .contains("unexpected \"junk\""));
    assert!(parse_real("10.0.0.5->10.0.0.2 gate", false)
        .unwrap_err()
        .contains("invalid range"));
    assert!(parse_real("[::1]->[::2] gate", true)
        .unwrap_err()
        .contains("only supported for IPv4"));
    assert_eq!(
        parse_real("[2001:db8::2]:80 ipip", true).unwrap().forward,
        Forward::Tunnel
    );
}

#[test]
fn flags_and_masks() {
    assert_eq!(parse_schedflags("flag-1,flag-2|flag-3", "rr"), Ok(0x38));
    assert_eq!(parse_schedflags("sh-fallback,sh-port", "sh"), Ok(0x18));
    assert!(parse_schedflags("sh-port", "rr")
        .unwrap_err()
        .contains("needs scheduler=sh"));
    assert_eq!(parse_schedflags("mh-port", "mh"), Ok(0x10));
    assert!(parse_schedflags("bogus", "rr").is_err());
    assert_eq!(parse_netmask("255.255.255.0", false), Ok(0xFFFF_FF00));
    assert_eq!(parse_netmask("64", true), Ok(64));
    assert!(parse_netmask("129", true).is_err());
    assert!(parse_netmask("24", false).is_err());
}

#[test]
fn networks() {
    let n = parse_cidrs("0.0.0.0/0 ::/0,127.0.0.1").unwrap();
    let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
    assert_eq!(n.len(), 3);
    assert!(n[0].contains(ip("203.0.113.9")) && !n[0].contains(ip("2001:db8::1")));
    assert!(n[1].contains(ip("2001:db8::1")) && !n[1].contains(ip("203.0.113.9")));
    assert!(n[2].contains(ip("127.0.0.1")) && !n[2].contains(ip("127.0.0.2")));
    assert_eq!(n[2].to_string(), "127.0.0.1/32");
    assert_eq!(
        parse_cidrs("10.1.2.3/8").unwrap()[0].to_string(),
        "10.1.2.3/8"
    );
    assert!(parse_cidrs("10.1.2.3/8").unwrap()[0].contains(ip("10.9.9.9")));
    assert!(parse_cidrs("").is_err());
    assert!(parse_cidrs(" , ").is_err());
    assert!(parse_cidrs("::1/129").unwrap_err().contains("0 to 128"));
    assert!(parse_cidrs("10.0.0.0/x").is_err());
}
