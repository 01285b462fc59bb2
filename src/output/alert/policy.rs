//! Which events alert whom, and when: the pure part of email alerts
//! (ldirectord's `ld_emailalert_send` and `ld_emailalert_resend`). The time
//! is always passed in, so tests drive it with a fake clock.

use super::Mail;
use crate::config::{AlertStatus, Config, EmailAlert};
use crate::core::events::fmt_virtual;
use crate::core::events::Event;
use crate::ipvs::ServiceKey;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::time::Instant;

/// The daemon's state (ldirectord's `$DAEMON_STATUS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DaemonStatus {
    Starting,
    Running,
    Stopping,
    Reloading,
}

impl DaemonStatus {
    /// Its bit in an `emailalertstatus` set.
    pub fn bit(self) -> AlertStatus {
        match self {
            DaemonStatus::Starting => AlertStatus::STARTING,
            DaemonStatus::Running => AlertStatus::RUNNING,
            DaemonStatus::Stopping => AlertStatus::STOPPING,
            DaemonStatus::Reloading => AlertStatus::RELOADING,
        }
    }

    /// As in the body's `Daemon-Status:` line.
    pub fn name(self) -> &'static str {
        match self {
            DaemonStatus::Starting => "starting",
            DaemonStatus::Running => "running",
            DaemonStatus::Stopping => "stopping",
            DaemonStatus::Reloading => "reloading",
        }
    }
}

/// Whether a table event sends an alert: `Some(true)` when it is a real
/// going out of service (deleted, quiesced: re-sends start), `Some(false)`
/// for the others ldirectord mails about (re-sends stop), `None` for events
/// without a mail (virtual servers, edits).
pub fn kind(event: &Event) -> Option<bool> {
    match event {
        Event::DeletedReal | Event::QuiescedReal => Some(true),
        Event::AddedReal { .. }
        | Event::RestoredReal { .. }
        | Event::PurgedReal
        | Event::AddedFallback
        | Event::DeletedFallback => Some(false),
        Event::AddedVirtual
        | Event::EditedVirtual
        | Event::DeletedVirtual
        | Event::EditedReal { .. } => None,
    }
}

/// What one virtual needs for alerts.
#[derive(Debug, Clone)]
struct VirtualAlerts {
    email: EmailAlert,
    comment: Option<String>,
    /// Its reals and fallback: the servers re-sends may be kept for.
    servers: HashSet<SocketAddr>,
}

/// Who gets which alert when (pure: the time is passed in).
#[derive(Debug)]
pub struct Alerts {
    virtuals: HashMap<ServiceKey, VirtualAlerts>,
    /// Servers out of service with re-sends running: when the last alert
    /// for each was due (ldirectord's `%EMAILSTATUS`).
    down: BTreeMap<(ServiceKey, SocketAddr), Instant>,
    status: DaemonStatus,
}

impl Alerts {
    /// For `config`, in state [`DaemonStatus::Starting`].
    pub fn new(config: &Config) -> Alerts {
        let mut a = Alerts {
            virtuals: HashMap::new(),
            down: BTreeMap::new(),
            status: DaemonStatus::Starting,
        };
        a.configure(config);
        a
    }

    /// Take a new config (reload). Re-sends are kept for servers still
    /// configured under a virtual whose `emailalertfreq` is not 0.
    pub fn configure(&mut self, config: &Config) {
        self.virtuals = config
            .virtuals
            .iter()
            .map(|v| {
                let mut servers: HashSet<SocketAddr> = v.reals.iter().map(|r| r.addr).collect();
                servers.extend(v.fallback.map(|f| f.addr));
                (
                    v.key,
                    VirtualAlerts {
                        email: v.email.clone(),
                        comment: v.comment.clone(),
                        servers,
                    },
                )
            })
            .collect();
        let virtuals = &self.virtuals;
        self.down.retain(|(key, addr), _| {
            virtuals
                .get(key)
                .is_some_and(|v| !v.email.emailalertfreq.is_zero() && v.servers.contains(addr))
        });
    }

    pub fn set_status(&mut self, status: DaemonStatus) {
        self.status = status;
    }

    pub fn status(&self) -> DaemonStatus {
        self.status
    }

    /// Whether any virtual has recipients.
    pub fn any_recipients(&self) -> bool {
        self.virtuals.values().any(|v| !v.email.to.is_empty())
    }

    /// Servers with re-sends running.
    pub fn reminding(&self) -> Vec<(ServiceKey, SocketAddr)> {
        self.down.keys().copied().collect()
    }

    /// A table event of server `addr` under virtual `key` at `now`, its log
    /// phrase `subject`; `down`: it went out of service (see [`kind`]). The
    /// mail to send, if any (ldirectord's `ld_emailalert_send`).
    pub fn event(
        &mut self,
        key: &ServiceKey,
        addr: SocketAddr,
        subject: &str,
        down: bool,
        reason: Option<&str>,
        now: Instant,
    ) -> Option<Mail> {
        let v = self.virtuals.get(key)?;
        if down && !v.email.emailalertfreq.is_zero() {
            self.down.insert((*key, addr), now);
        } else {
            self.down.remove(&(*key, addr));
        }
        self.mail(key, subject, reason)
    }

    /// The re-sends due at `now` (ldirectord's `ld_emailalert_resend`):
    /// `Inaccessible real server: R (V)` for each server out of service for
    /// `emailalertfreq` since its last alert.
    pub fn due(&mut self, now: Instant) -> Vec<Mail> {
        let mut due = Vec::new();
        for ((key, addr), last) in &mut self.down {
            let Some(v) = self.virtuals.get(key) else {
                continue;
            };
            if now.saturating_duration_since(*last) < v.email.emailalertfreq {
                continue;
            }
            *last = now;
            due.push((*key, *addr));
        }
        due.into_iter()
            .filter_map(|(key, addr)| {
                let subject = format!("Inaccessible real server: {addr} ({})", fmt_virtual(&key));
                self.mail(&key, &subject, None)
            })
            .collect()
    }

    /// The mail for `subject` under virtual `key`, unless the state filter
    /// or an empty recipient list says none.
    fn mail(&self, key: &ServiceKey, subject: &str, reason: Option<&str>) -> Option<Mail> {
        let v = self.virtuals.get(key)?;
        let e = &v.email;
        if !e.emailalertstatus.contains(self.status.bit()) || e.to.is_empty() {
            return None;
        }
        Some(Mail {
            to: e.to.clone(),
            from: e.from.clone(),
            smtp: e.smtp,
            subject: subject.to_string(),
            status: self.status,
            reason: reason.map(str::to_string),
            comment: v.comment.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::time::Duration;

    fn config(text: &str) -> Config {
        crate::config::cf::parse(Path::new("t.cf"), text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn key(c: &Config, i: usize) -> ServiceKey {
        c.virtuals[i].key
    }

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    const TWO: &str = "emailalert=\"ops@example.com, root\"\nemailalertfreq=60\n\
        virtual=127.0.0.1:80\n\treal=127.0.0.2:80 gate\n\treal=127.0.0.3:80 gate\n\tcomment=web\n\
        virtual=127.0.0.1:81\n\treal=127.0.0.2:81 gate\n\temailalert=web@example.com\n\temailalertfreq=0\n";

    #[test]
    fn down_event_mails_and_repeats_every_freq_until_up() {
        let c = config(TWO);
        let mut a = Alerts::new(&c);
        a.set_status(DaemonStatus::Running);
        let (k, r) = (key(&c, 0), sa("127.0.0.2:80"));
        let t0 = Instant::now();
        let subject = "Deleted real server: 127.0.0.2:80 (127.0.0.1:80)";
        let m = a
            .event(&k, r, subject, true, Some("HTTP 503"), t0)
            .expect("a mail");
        assert_eq!(m.to, vec!["ops@example.com", "root"]);
        assert_eq!(m.recipients(), vec!["ops@example.com", "root"]);
        assert_eq!(m.subject, subject);
        assert_eq!(m.reason.as_deref(), Some("HTTP 503"));
        assert_eq!(m.comment.as_deref(), Some("web"));
        // Not yet due.
        assert!(a.due(t0 + Duration::from_secs(59)).is_empty());
        let d = a.due(t0 + Duration::from_secs(60));
        assert_eq!(d.len(), 1);
        assert_eq!(
            d[0].subject,
            "Inaccessible real server: 127.0.0.2:80 (127.0.0.1:80)"
        );
        assert_eq!(d[0].reason, None);
        // The clock restarts from the re-send.
        assert!(a.due(t0 + Duration::from_secs(100)).is_empty());
        assert_eq!(a.due(t0 + Duration::from_secs(121)).len(), 1);
        // Back up: one mail, and no more re-sends.
        let up = a
            .event(
                &k,
                r,
                "Added real server: 127.0.0.2:80 (127.0.0.1:80) (Weight set to 1)",
                false,
                None,
                t0 + Duration::from_secs(130),
            )
            .expect("up mail");
        assert!(up.subject.starts_with("Added real server"));
        assert!(a.due(t0 + Duration::from_secs(10_000)).is_empty());
        assert!(a.reminding().is_empty());
    }

    #[test]
    fn freq_zero_never_repeats_and_virtual_recipients_override() {
        let c = config(TWO);
        let mut a = Alerts::new(&c);
        a.set_status(DaemonStatus::Running);
        let k = key(&c, 1);
        let t0 = Instant::now();
        let m = a
            .event(
                &k,
                sa("127.0.0.2:81"),
                "Deleted real server: x",
                true,
                None,
                t0,
            )
            .unwrap();
        assert_eq!(m.to, vec!["web@example.com"]);
        assert_eq!(m.comment, None);
        assert!(a.reminding().is_empty());
        assert!(a.due(t0 + Duration::from_secs(1_000_000)).is_empty());
    }

    #[test]
    fn status_filter_blocks_mails_but_not_the_resend_clock() {
        let c = config(
            "emailalert=a@b\nemailalertfreq=10\nemailalertstatus=running, stopping\n\
             virtual=127.0.0.1:80\n\treal=127.0.0.2:80 gate\n",
        );
        let mut a = Alerts::new(&c);
        let (k, r) = (key(&c, 0), sa("127.0.0.2:80"));
        let t0 = Instant::now();
        // Starting: filtered out, yet the re-send clock starts.
        assert_eq!(a.status(), DaemonStatus::Starting);
        assert!(a.event(&k, r, "Deleted", true, None, t0).is_none());
        assert_eq!(a.reminding(), vec![(k, r)]);
        a.set_status(DaemonStatus::Reloading);
        assert!(a.due(t0 + Duration::from_secs(10)).is_empty());
        a.set_status(DaemonStatus::Running);
        assert!(
            a.due(t0 + Duration::from_secs(15)).is_empty(),
            "clock restarted at 10s"
        );
        let d = a.due(t0 + Duration::from_secs(20));
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].status, DaemonStatus::Running);
        a.set_status(DaemonStatus::Stopping);
        let m = a.event(
            &k,
            r,
            "Purged real server (stop): x",
            false,
            None,
            t0 + Duration::from_secs(21),
        );
        assert_eq!(m.map(|m| m.status), Some(DaemonStatus::Stopping));
    }

    #[test]
    fn none_and_no_recipients_send_nothing() {
        let c = config(
            "emailalertstatus=none\nemailalert=a@b\nvirtual=127.0.0.1:80\n\treal=127.0.0.2:80 gate\n\
             virtual=127.0.0.1:81\n\treal=127.0.0.2:81 gate\n\temailalertstatus=all\n\
             virtual=127.0.0.1:82\n\treal=127.0.0.2:82 gate\n",
        );
        let mut a = Alerts::new(&c);
        a.set_status(DaemonStatus::Running);
        let t0 = Instant::now();
        assert!(a
            .event(&key(&c, 0), sa("127.0.0.2:80"), "x", true, None, t0)
            .is_none());
        assert!(a
            .event(&key(&c, 1), sa("127.0.0.2:81"), "x", true, None, t0)
            .is_some());
        let c2 = config("virtual=127.0.0.1:80\n\treal=127.0.0.2:80 gate\n");
        let mut b = Alerts::new(&c2);
        b.set_status(DaemonStatus::Running);
        assert!(!b.any_recipients());
        assert!(b
            .event(&key(&c2, 0), sa("127.0.0.2:80"), "x", true, None, t0)
            .is_none());
        // Unknown virtual: nothing.
        assert!(b
            .event(&key(&c, 2), sa("127.0.0.2:82"), "x", true, None, t0)
            .is_none());
    }

    #[test]
    fn reload_keeps_reminders_only_for_configured_servers() {
        let c = config(TWO);
        let mut a = Alerts::new(&c);
        let t0 = Instant::now();
        let k = key(&c, 0);
        a.event(&k, sa("127.0.0.2:80"), "d", true, None, t0);
        a.event(&k, sa("127.0.0.3:80"), "d", true, None, t0);
        assert_eq!(a.reminding().len(), 2);
        let c2 = config(&TWO.replace("\treal=127.0.0.3:80 gate\n", ""));
        a.configure(&c2);
        assert_eq!(a.reminding(), vec![(k, sa("127.0.0.2:80"))]);
        let c3 = config(&TWO.replace("emailalertfreq=60", "emailalertfreq=0"));
        a.configure(&c3);
        assert!(a.reminding().is_empty());
    }

    #[test]
    fn events_that_mail() {
        assert_eq!(kind(&Event::DeletedReal), Some(true));
        assert_eq!(kind(&Event::QuiescedReal), Some(true));
        assert_eq!(kind(&Event::AddedReal { weight: 1 }), Some(false));
        assert_eq!(kind(&Event::RestoredReal { weight: 1 }), Some(false));
        assert_eq!(kind(&Event::PurgedReal), Some(false));
        assert_eq!(kind(&Event::AddedFallback), Some(false));
        assert_eq!(kind(&Event::DeletedFallback), Some(false));
        assert_eq!(kind(&Event::AddedVirtual), None);
        assert_eq!(kind(&Event::EditedReal { weight: 2 }), None);
    }
}
