//! The events the director tells operators about, and their phrases.
//!
//! Every ldirectord phrase for a table change or a soft failure is written
//! here and only here. An event carries everything its phrase needs (the
//! server, the virtual, the pass that made it, the check's reason), so it is
//! rendered right the first time; the event log and the alert subjects use
//! the same text.
//!
//! ```text
//! Deleted real server: 10.0.0.2:80 (10.0.0.100:80) reason: HTTP 503
//! Purged real server (start): 10.0.0.9:80 (10.0.0.100:80)
//! Soft failure real server: 10.0.0.2:80 (10.0.0.100:80) failure 1/3 reason: timed out
//! ```

use super::table::Change;
use crate::ipvs::{Op, ServiceKey};
use std::net::SocketAddr;

/// Why a change is made: this is what the event log says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    AddedVirtual,
    EditedVirtual,
    DeletedVirtual,
    /// A real added with its weight (at start, or back up when not quiescent).
    AddedReal {
        weight: u32,
    },
    /// A real's weight raised back from 0 (quiescent mode).
    RestoredReal {
        weight: u32,
    },
    /// A real's weight set to 0.
    QuiescedReal,
    DeletedReal,
    /// A real's settings changed by a reload (weight, method, thresholds).
    EditedReal {
        weight: u32,
    },
    /// A destination the config does not list, purged.
    PurgedReal,
    AddedFallback,
    DeletedFallback,
}

/// Which pass over the table made a change. ldirectord names it in the
/// purge phrase: `Purged real server (start): R (V)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The first pass, adopting the live table.
    Start,
    /// After the config was re-read.
    Reload,
    /// After the table was re-read (periodically, or after a kernel error).
    Resync,
    /// A real's state changed on a check result.
    Check,
    /// Stopping with `cleanstop`.
    Stop,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Start => "start",
            Phase::Reload => "reload",
            Phase::Resync => "resync",
            Phase::Check => "check",
            Phase::Stop => "stop",
        }
    }
}

/// One table event as the log and the alerts tell it: what happened, to
/// which server of which virtual, in which pass, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableEvent<'a> {
    pub event: Event,
    pub key: ServiceKey,
    /// The real or fallback server; `None` for a virtual-server event.
    pub addr: Option<SocketAddr>,
    pub phase: Phase,
    /// The check's reason, when a check result led to the change.
    pub reason: Option<&'a str>,
}

impl<'a> TableEvent<'a> {
    /// The event of `change`, made in `phase` (for `reason`, if a check
    /// result led to it).
    pub fn of(change: &Change, phase: Phase, reason: Option<&'a str>) -> TableEvent<'a> {
        let (key, addr) = match &change.op {
            Op::AddService(s) | Op::EditService(s) => (s.key, None),
            Op::DelService(k) => (*k, None),
            Op::AddDest(k, d) | Op::EditDest(k, d) => (*k, Some(d.addr)),
            Op::DelDest(k, a) => (*k, Some(*a)),
        };
        TableEvent {
            event: change.event.clone(),
            key,
            addr,
            phase,
            reason,
        }
    }

    /// ldirectord's phrase, without the reason: `Deleted real server: R (V)`.
    /// It is also the subject of the email alert.
    pub fn phrase(&self) -> String {
        use Event::*;
        let v = fmt_virtual(&self.key);
        let r = self.addr.map(|a| a.to_string()).unwrap_or_default();
        match &self.event {
            AddedVirtual => format!("Added virtual server: {v}"),
            EditedVirtual => format!("Edited virtual server: {v}"),
            DeletedVirtual => format!("Deleted virtual server: {v}"),
            AddedReal { weight } => {
                format!("Added real server: {r} ({v}) (Weight set to {weight})")
            }
            RestoredReal { weight } => {
                format!("Restored real server: {r} ({v}) (Weight set to {weight})")
            }
            EditedReal { weight } => {
                format!("Edited real server: {r} ({v}) (Weight set to {weight})")
            }
            QuiescedReal => format!("Quiescent real server: {r} ({v}) (Weight set to 0)"),
            DeletedReal => format!("Deleted real server: {r} ({v})"),
            PurgedReal => format!("Purged real server ({}): {r} ({v})", self.phase.name()),
            AddedFallback => format!("Added fallback server: {r} ({v})"),
            DeletedFallback => format!("Deleted fallback server: {r} ({v})"),
        }
    }

    /// The event-log line: the phrase, and for a real taken out of service
    /// (deleted or quiesced) on a check result, ` reason: <the check's>`.
    pub fn line(&self) -> String {
        let mut line = self.phrase();
        if let (Some(r), Event::DeletedReal | Event::QuiescedReal) = (self.reason, &self.event) {
            line.push_str(" reason: ");
            line.push_str(r);
        }
        line
    }
}

/// An up real whose check failed fewer than `failurecount` times in a row:
/// still in service, but logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoftFailure<'a> {
    pub real: SocketAddr,
    pub key: ServiceKey,
    pub failures: u32,
    pub failurecount: u32,
    pub reason: &'a str,
}

impl SoftFailure<'_> {
    /// `Soft failure real server: R (V) failure 1/3 reason: ...`.
    pub fn line(&self) -> String {
        format!(
            "Soft failure real server: {} ({}) failure {}/{} reason: {}",
            self.real,
            fmt_virtual(&self.key),
            self.failures,
            self.failurecount,
            self.reason
        )
    }
}

/// ldirectord's spelling of a virtual in event lines: `vip:vport`, or the
/// mark number for a fwmark service.
pub fn fmt_virtual(key: &ServiceKey) -> String {
    match key {
        ServiceKey::Inet { addr, .. } => addr.to_string(),
        ServiceKey::Fwmark { mark, .. } => mark.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipvs::{Dest, Forward, Protocol};

    fn key() -> ServiceKey {
        ServiceKey::Inet {
            proto: Protocol::Tcp,
            addr: "10.0.0.100:80".parse().unwrap(),
        }
    }

    fn dest(weight: u32) -> Dest {
        Dest {
            addr: "10.0.0.2:80".parse().unwrap(),
            forward: Forward::Masq,
            weight,
            upper: 0,
            lower: 0,
        }
    }

    #[test]
    fn purge_names_the_pass_that_made_it() {
        let change = Change {
            op: Op::DelDest(key(), "10.0.0.9:80".parse().unwrap()),
            event: Event::PurgedReal,
        };
        for (phase, name) in [
            (Phase::Start, "start"),
            (Phase::Reload, "reload"),
            (Phase::Resync, "resync"),
            (Phase::Stop, "stop"),
        ] {
            let e = TableEvent::of(&change, phase, None);
            assert_eq!(
                e.line(),
                format!("Purged real server ({name}): 10.0.0.9:80 (10.0.0.100:80)")
            );
        }
    }

    #[test]
    fn reason_follows_only_a_real_taken_out_of_service() {
        let k = key();
        let deleted = Change {
            op: Op::DelDest(k, dest(1).addr),
            event: Event::DeletedReal,
        };
        let e = TableEvent::of(&deleted, Phase::Check, Some("HTTP 503"));
        assert_eq!(
            e.phrase(),
            "Deleted real server: 10.0.0.2:80 (10.0.0.100:80)"
        );
        assert_eq!(
            e.line(),
            "Deleted real server: 10.0.0.2:80 (10.0.0.100:80) reason: HTTP 503"
        );
        let quiesced = Change {
            op: Op::EditDest(k, dest(0)),
            event: Event::QuiescedReal,
        };
        assert_eq!(
            TableEvent::of(&quiesced, Phase::Check, Some("timed out")).line(),
            "Quiescent real server: 10.0.0.2:80 (10.0.0.100:80) (Weight set to 0) reason: timed out"
        );
        let added = Change {
            op: Op::AddDest(k, dest(3)),
            event: Event::AddedReal { weight: 3 },
        };
        assert_eq!(
            TableEvent::of(&added, Phase::Check, Some("ok")).line(),
            "Added real server: 10.0.0.2:80 (10.0.0.100:80) (Weight set to 3)"
        );
    }

    #[test]
    fn virtual_events_name_the_virtual_only() {
        let fwmark = ServiceKey::Fwmark { mark: 7, v6: false };
        let e = TableEvent::of(
            &Change {
                op: Op::DelService(fwmark),
                event: Event::DeletedVirtual,
            },
            Phase::Reload,
            None,
        );
        assert_eq!(e.addr, None);
        assert_eq!(e.line(), "Deleted virtual server: 7");
    }

    #[test]
    fn soft_failure_counts_and_reason() {
        let s = SoftFailure {
            real: dest(1).addr,
            key: key(),
            failures: 1,
            failurecount: 3,
            reason: "timed out",
        };
        assert_eq!(
            s.line(),
            "Soft failure real server: 10.0.0.2:80 (10.0.0.100:80) failure 1/3 reason: timed out"
        );
    }
}
