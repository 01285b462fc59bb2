//! Host names, where ldirectord takes them (`virtual=`, `real=` and its
//! ranges, `fallback=`, `smtp=`): resolved when the config is loaded, so at
//! every reload too, through the system's resolver (`getaddrinfo(3)`:
//! `/etc/hosts`, DNS, ... as `nsswitch.conf` says). As in ldirectord
//! (`ld_gethostbyname`), a name stands for the *first* address of the
//! entry's family it resolves to; a name that does not resolve is an error
//! naming its `file:line`.
//!
//! The names of a file are looked up together, several at a time, each
//! once, so a slow resolver costs about one lookup, not one per line.
//! Tests use a [`StaticResolver`] instead of the system's.

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, ToSocketAddrs};

/// An address as written: an IP literal, or a name to resolve.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    Ip(IpAddr),
    Name(String),
}

impl Host {
    /// The name, when this is one.
    pub fn name(&self) -> Option<&str> {
        match self {
            Host::Name(n) => Some(n),
            Host::Ip(_) => None,
        }
    }
}

impl std::fmt::Display for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Host::Ip(ip) => write!(f, "{ip}"),
            Host::Name(n) => f.write_str(n),
        }
    }
}

/// Looks up host names.
pub trait Resolver: Sync {
    /// Every address `name` has, in the resolver's order, or why there is
    /// none.
    fn lookup(&self, name: &str) -> Result<Vec<IpAddr>, String>;
}

/// The system's resolver (`getaddrinfo(3)`).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn lookup(&self, name: &str) -> Result<Vec<IpAddr>, String> {
        let addrs = (name, 0u16).to_socket_addrs().map_err(|e| e.to_string())?;
        let mut out: Vec<IpAddr> = Vec::new();
        for a in addrs {
            if !out.contains(&a.ip()) {
                out.push(a.ip());
            }
        }
        Ok(out)
    }
}

/// Fixed answers (tests): a name not listed does not resolve.
#[derive(Debug, Clone, Default)]
pub struct StaticResolver(pub HashMap<String, Vec<IpAddr>>);

impl StaticResolver {
    /// `name` resolves to `addrs` (text forms).
    pub fn with(mut self, name: &str, addrs: &[&str]) -> Self {
        let ips = addrs
            .iter()
            .map(|a| a.parse().expect("an IP address"))
            .collect();
        self.0.insert(name.to_string(), ips);
        self
    }
}

impl Resolver for StaticResolver {
    fn lookup(&self, name: &str) -> Result<Vec<IpAddr>, String> {
        self.0
            .get(name)
            .cloned()
            .ok_or_else(|| "Name or service not known".to_string())
    }
}

/// How many lookups run at once.
const PARALLEL: usize = 8;

/// The answers for the names of one file.
pub(crate) struct Resolved {
    answers: HashMap<String, Result<Vec<IpAddr>, String>>,
}

impl Resolved {
    /// Look up `names`, [`PARALLEL`] at a time.
    pub(crate) fn lookup(names: BTreeSet<String>, resolver: &dyn Resolver) -> Resolved {
        let names: Vec<String> = names.into_iter().collect();
        let mut answers = HashMap::with_capacity(names.len());
        if names.len() <= 1 {
            for n in names {
                let a = resolver.lookup(&n);
                answers.insert(n, a);
            }
            return Resolved { answers };
        }
        let per = names.len().div_ceil(PARALLEL);
        std::thread::scope(|s| {
            let handles: Vec<_> = names
                .chunks(per)
                .map(|chunk| {
                    s.spawn(move || {
                        chunk
                            .iter()
                            .map(|n| (n.clone(), resolver.lookup(n)))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            for h in handles {
                if let Ok(v) = h.join() {
                    answers.extend(v);
                }
            }
        });
        Resolved { answers }
    }

    /// The address `host` stands for in an entry of family `v6`: itself,
    /// or the first address of that family its name resolves to.
    pub(crate) fn pick(&self, host: &Host, v6: bool) -> Result<IpAddr, String> {
        let name = match host {
            Host::Ip(ip) => return Ok(*ip),
            Host::Name(n) => n,
        };
        let family = if v6 { "IPv6" } else { "IPv4" };
        match self.answers.get(name) {
            None => Err(format!("cannot resolve host \"{name}\"")),
            Some(Err(e)) => Err(format!("cannot resolve host \"{name}\": {e}")),
            Some(Ok(addrs)) => addrs
                .iter()
                .copied()
                .find(|a| a.is_ipv6() == v6)
                .ok_or_else(|| {
                    let all: Vec<String> = addrs.iter().map(ToString::to_string).collect();
                    format!(
                        "host \"{name}\" has no {family} address (it resolves to {})",
                        if all.is_empty() {
                            "nothing".to_string()
                        } else {
                            all.join(", ")
                        }
                    )
                }),
        }
    }
}

/// The port of a service name in the system's services database
/// (`/etc/services`), TCP preferred, as ldirectord's `getservbyname`.
/// Read once.
pub(crate) fn service_port(name: &str) -> Option<u16> {
    static TABLE: std::sync::OnceLock<HashMap<String, u16>> = std::sync::OnceLock::new();
    TABLE
        .get_or_init(|| {
            std::fs::read("/etc/services")
                .map(|b| services_table(&String::from_utf8_lossy(&b)))
                .unwrap_or_default()
        })
        .get(name)
        .copied()
}

/// `name port/proto [aliases...]` lines to name -> port (tcp first).
fn services_table(text: &str) -> HashMap<String, u16> {
    let mut tcp: HashMap<String, u16> = HashMap::new();
    let mut other: HashMap<String, u16> = HashMap::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut words = line.split_whitespace();
        let (Some(name), Some(pp)) = (words.next(), words.next()) else {
            continue;
        };
        let Some((port, proto)) = pp.split_once('/') else {
            continue;
        };
        let Ok(port) = port.parse::<u16>() else {
            continue;
        };
        let table = if proto == "tcp" { &mut tcp } else { &mut other };
        for n in std::iter::once(name).chain(words) {
            table.entry(n.to_string()).or_insert(port);
        }
    }
    for (n, p) in other {
        tcp.entry(n).or_insert(p);
    }
    tcp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_address_of_the_family() {
        let r = StaticResolver::default()
            .with("web", &["2001:db8::1", "10.0.0.1", "10.0.0.2"])
            .with("v6only", &["2001:db8::2"]);
        let names: BTreeSet<String> = ["web", "v6only", "nosuch"].map(String::from).into();
        let res = Resolved::lookup(names, &r);
        let web = Host::Name("web".into());
        assert_eq!(res.pick(&web, false), Ok("10.0.0.1".parse().unwrap()));
        assert_eq!(res.pick(&web, true), Ok("2001:db8::1".parse().unwrap()));
        let e = res.pick(&Host::Name("v6only".into()), false).unwrap_err();
        assert!(
            e.contains("no IPv4 address (it resolves to 2001:db8::2)"),
            "{e}"
        );
        let e = res.pick(&Host::Name("nosuch".into()), false).unwrap_err();
        assert!(e.starts_with("cannot resolve host \"nosuch\""), "{e}");
        let ip: IpAddr = "10.9.9.9".parse().unwrap();
        assert_eq!(res.pick(&Host::Ip(ip), false), Ok(ip));
    }

    #[test]
    fn many_names_resolve_in_parallel_each_once() {
        let mut r = StaticResolver::default();
        let mut names = BTreeSet::new();
        for i in 0..50 {
            let n = format!("h{i}");
            r = r.with(&n, &[&format!("10.1.0.{i}")]);
            names.insert(n);
        }
        let res = Resolved::lookup(names, &r);
        for i in 0..50 {
            assert_eq!(
                res.pick(&Host::Name(format!("h{i}")), false),
                Ok(format!("10.1.0.{i}").parse().unwrap())
            );
        }
    }

    #[test]
    fn system_resolver_knows_localhost() {
        let a = SystemResolver.lookup("localhost").unwrap();
        assert!(a.iter().any(std::net::IpAddr::is_loopback), "{a:?}");
        assert!(SystemResolver.lookup("nosuch.invalid").is_err());
    }

    #[test]
    fn services_file() {
        let t = services_table("http 80/tcp www # WWW\nhttp 80/udp\ndomain 53/udp\nfoo x/tcp\n");
        assert_eq!(t.get("www"), Some(&80));
        assert_eq!(t.get("domain"), Some(&53));
        assert_eq!(t.get("foo"), None);
    }
}
