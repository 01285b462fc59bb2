//! `maintenancedir` files named by host (`web1`, `web1:80`,
//! `web1.example.com`), as ldirectord takes them: it looks up the name of
//! each real's address (`gethostbyaddr`) and looks for `name:port`, `name`
//! and the same with the short name. Here the other way round, which
//! needs no reverse DNS: a file's name is resolved, and it puts every real
//! at those addresses (on that port, when given) in maintenance.
//!
//! Lookups never block the director: they run on a thread of their own,
//! at most one round at a time; a name is known from the next refresh on
//! and looked up again every [`TTL`].

use crate::config::{Resolver, SystemResolver};
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long an answer is used before the name is looked up again.
const TTL: Duration = Duration::from_secs(30);

/// Most names looked up in one round.
const MAX_ROUND: usize = 64;

type Answers = Vec<(String, Vec<IpAddr>)>;

/// The names of host files, resolved.
#[derive(Default)]
pub(super) struct HostFiles {
    known: HashMap<String, (Instant, Vec<IpAddr>)>,
    round: Option<mpsc::Receiver<Answers>>,
}

/// `name` or `name:port` when the file name is a host name (not an
/// address: those are taken as they are).
fn host_file(file: &str) -> Option<(&str, Option<&str>)> {
    let (host, port) = match file.rsplit_once(':') {
        Some((h, p)) if !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()) => (h, Some(p)),
        Some(_) => return None,
        None => (file, None),
    };
    let name_like = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        && host.chars().any(|c| c.is_ascii_alphabetic());
    (name_like && host.parse::<IpAddr>().is_err()).then_some((host, port))
}

impl HostFiles {
    /// The entries (`ip`, `ip:port`) the host files among `files` stand
    /// for, from the answers known so far; names not known (or stale) are
    /// looked up in the background for a later call.
    pub(super) fn expand(&mut self, files: &HashSet<String>) -> Vec<String> {
        if let Some(rx) = &self.round {
            match rx.try_recv() {
                Ok(answers) => {
                    let now = Instant::now();
                    for (n, ips) in answers {
                        self.known.insert(n, (now, ips));
                    }
                    self.round = None;
                }
                Err(mpsc::TryRecvError::Disconnected) => self.round = None,
                Err(mpsc::TryRecvError::Empty) => {}
            }
        }
        let mut out = Vec::new();
        let mut wanted: Vec<String> = Vec::new();
        for f in files {
            let Some((host, port)) = host_file(f) else {
                continue;
            };
            match self.known.get(host) {
                Some((at, ips)) => {
                    for ip in ips {
                        match port.map(str::parse::<u16>) {
                            None => out.push(ip.to_string()),
                            Some(Ok(p)) => out.push(std::net::SocketAddr::new(*ip, p).to_string()),
                            Some(Err(_)) => {}
                        }
                    }
                    if at.elapsed() >= TTL {
                        wanted.push(host.to_string());
                    }
                }
                None => wanted.push(host.to_string()),
            }
        }
        // Forget the names no file holds any more.
        self.known.retain(|n, _| {
            files
                .iter()
                .any(|f| host_file(f).is_some_and(|(h, _)| h == n))
        });
        wanted.sort();
        wanted.dedup();
        wanted.truncate(MAX_ROUND);
        if self.round.is_none() && !wanted.is_empty() {
            let (tx, rx) = mpsc::channel();
            let spawned = std::thread::Builder::new()
                .name("maintenance-dns".into())
                .spawn(move || {
                    let answers: Answers = wanted
                        .into_iter()
                        .map(|n| {
                            let ips = SystemResolver.lookup(&n).unwrap_or_default();
                            (n, ips)
                        })
                        .collect();
                    let _ = tx.send(answers);
                });
            if spawned.is_ok() {
                self.round = Some(rx);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_files_are_host_names() {
        assert_eq!(host_file("web1"), Some(("web1", None)));
        assert_eq!(
            host_file("web1.example.com:80"),
            Some(("web1.example.com", Some("80")))
        );
        assert_eq!(host_file("10.0.0.2"), None);
        assert_eq!(host_file("10.0.0.2:80"), None);
        assert_eq!(host_file("[::1]:80"), None);
        assert_eq!(host_file("::1"), None);
        assert_eq!(host_file("web1:http"), None);
    }

    #[test]
    fn a_host_file_names_the_addresses_of_its_host() {
        let mut h = HostFiles::default();
        let files: HashSet<String> = ["localhost:80", "10.0.0.9", "nosuch.invalid"]
            .map(String::from)
            .into();
        // Not known yet: looked up in the background.
        assert!(h.expand(&files).is_empty());
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut got = Vec::new();
        while got.is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            got = h.expand(&files);
        }
        assert!(got.contains(&"127.0.0.1:80".to_string()), "{got:?}");
        assert!(got.iter().all(|e| e.ends_with(":80")), "{got:?}");
        // A file removed: its name is forgotten.
        let none: HashSet<String> = HashSet::new();
        assert!(h.expand(&none).is_empty());
        assert!(h.known.is_empty());
    }
}
