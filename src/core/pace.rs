//! How the director degrades when the machine cannot keep up: checks start
//! no faster than the machine finishes them (so each one that starts has
//! the CPU to finish in time), every real is still checked, longest-waiting
//! first, only less often; and once a minute at most, a line says how far
//! behind the schedule is. Pure: figures in, a rate and lines out.
//!
//! - [`RateControl`]: the rate at which checks may start, adapted every
//!   [`RateControl::PERIOD`] to the lag of the runtime the probes run on
//!   (how late a ticker there wakes): down when it lags, up when checks are
//!   waiting and it does not.
//! - [`Minute`] and [`report`]: the once-a-minute lines.

use std::time::Duration;

/// The rate (checks per second) at which checks may start.
#[derive(Debug, Clone, PartialEq)]
pub struct RateControl {
    rate: f64,
    /// The lag, smoothed over a few periods (a single late wake-up of a
    /// busy machine is noise, not overload), seconds.
    lag: f64,
}

impl RateControl {
    /// How often the rate is adapted.
    pub const PERIOD: Duration = Duration::from_millis(100);
    /// The runtime lag the rate aims to stay under.
    pub const TARGET_LAG: Duration = Duration::from_millis(100);
    /// The starting rate: enough for 2,000 reals at 1 s without waiting,
    /// and doubled in 0.4 s while the machine keeps up easily.
    pub const INITIAL: f64 = 2000.0;
    /// The weight of the newest period in the smoothed lag.
    pub const SMOOTHING: f64 = 0.5;
    /// Never slower than this (a round of 10,000 reals in 1,000 s).
    pub const MIN: f64 = 10.0;
    /// Never faster than this.
    pub const MAX: f64 = 1_000_000.0;

    pub fn new() -> Self {
        RateControl {
            rate: Self::INITIAL,
            lag: 0.0,
        }
    }

    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// One period: the largest runtime `lag` seen in it, and whether checks
    /// had to wait for their start (`throttled`). Returns the new rate.
    pub fn observe(&mut self, lag: Duration, throttled: bool) -> f64 {
        self.lag += (lag.as_secs_f64() - self.lag) * Self::SMOOTHING;
        let lag = self.lag;
        let t = Self::TARGET_LAG.as_secs_f64();
        let factor = if lag >= t * 2.0 {
            0.8
        } else if lag >= t {
            0.95
        } else if throttled && lag < t / 4.0 {
            1.25
        } else if throttled && lag < t / 2.0 {
            1.1
        } else {
            1.0
        };
        self.rate = (self.rate * factor).clamp(Self::MIN, Self::MAX);
        self.rate
    }
}

impl Default for RateControl {
    fn default() -> Self {
        Self::new()
    }
}

/// How late a check may start before the director says it is behind.
pub const BEHIND: Duration = Duration::from_millis(250);

/// What happened over one report period (about a minute).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Minute {
    /// The largest delay of a check's start past its due time.
    pub schedule_lag: Duration,
    /// Whether the previous report said the checks were behind.
    pub was_behind: bool,
    /// Checks finished per second over the period; `None` when the period
    /// is too short to say (the first seconds).
    pub finished_per_s: Option<f64>,
    /// Checks per second the configuration asks for.
    pub wanted_per_s: f64,
    /// Timeouts not counted: the director could not run for much of them.
    pub stalled: u64,
    /// Failures local to the director (descriptors, buffers, memory,
    /// ports), not counted and retried; with the last reason.
    pub local: u64,
    pub local_reason: Option<String>,
}

/// The report lines for a period (none when there is nothing to say), and
/// whether the checks are behind now.
pub fn report(m: &Minute) -> (Vec<String>, bool) {
    let mut lines = Vec::new();
    let behind = m.schedule_lag >= BEHIND;
    if behind {
        let rate = match m.finished_per_s {
            Some(r) => format!("{r:.0} checks/s finished of {:.0}/s asked", m.wanted_per_s),
            None => format!("{:.0} checks/s asked", m.wanted_per_s),
        };
        lines.push(format!(
            "Warning: checks are behind schedule: started up to {} late ({rate}); every real server is still checked, less often",
            secs(m.schedule_lag),
        ));
    } else if m.was_behind {
        lines.push("Checks are back on schedule".to_string());
    }
    if m.stalled > 0 {
        lines.push(format!(
            "Warning: the director was short of CPU; {} check timeouts were not counted against their real servers (the director could not run for much of their time)",
            m.stalled
        ));
    }
    if m.local > 0 {
        lines.push(format!(
            "Warning: {} checks failed for a reason of the director's own, not the real servers' ({}); they were not counted and are retried",
            m.local,
            m.local_reason.as_deref().unwrap_or("unknown")
        ));
    }
    (lines, behind)
}

/// `2.3s`, `0.25s`.
fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 10.0 {
        format!("{s:.0}s")
    } else if s >= 1.0 {
        format!("{s:.1}s")
    } else {
        format!("{s:.2}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    const T: Duration = RateControl::TARGET_LAG;

    #[test]
    fn the_rate_falls_when_the_runtime_lags() {
        let mut c = RateControl::new();
        let r0 = c.rate();
        // Smoothed: 4T seen once is 2T.
        assert_eq!(c.observe(T * 4, true), r0 * 0.8);
        // Then T: (2T + T) / 2 = 1.5T, over the target.
        assert_eq!(c.observe(T, true), r0 * 0.8 * 0.95);
        // (1.5T + 0) / 2 = 0.75T: between half the target and the target,
        // the rate holds.
        assert_eq!(c.observe(MS(0), true), r0 * 0.8 * 0.95);
    }

    #[test]
    fn one_late_wake_up_is_noise() {
        let mut c = RateControl::new();
        let r0 = c.rate();
        // 1.5T once: smoothed to 0.75T, under the target.
        assert_eq!(c.observe(T * 3 / 2, true), r0);
    }

    #[test]
    fn the_rate_grows_only_while_checks_wait_and_the_runtime_keeps_up() {
        let mut c = RateControl::new();
        let r0 = c.rate();
        assert_eq!(c.observe(T / 10, false), r0, "nobody waited");
        // Smoothed (T/20 + T/10) / 2 = 0.075T: well under the target, fast.
        assert_eq!(c.observe(T / 10, true), r0 * 1.25);
        // Closer to the target, slower: smoothed (0.075T + 0.8T) / 2 = 0.44T.
        assert_eq!(c.observe(T * 8 / 10, true), r0 * 1.25 * 1.1);
    }

    #[test]
    fn the_rate_stays_within_its_bounds() {
        let mut c = RateControl::new();
        for _ in 0..200 {
            c.observe(MS(1000), true);
        }
        assert_eq!(c.rate(), RateControl::MIN);
        for _ in 0..200 {
            c.observe(MS(0), true);
        }
        assert_eq!(c.rate(), RateControl::MAX);
    }

    #[test]
    fn a_sustained_overload_settles_near_what_the_machine_finishes() {
        // A machine that finishes 3,000 checks/s: above that the lag grows
        // with the excess, below it there is none. The rate settles in a
        // band around the capacity, and never collapses.
        let capacity = 3000.0;
        let mut c = RateControl::new();
        let mut rates = Vec::new();
        for _ in 0..600 {
            let excess = (c.rate() - capacity).max(0.0);
            let lag = MS((excess / capacity * 400.0) as u64);
            rates.push(c.observe(lag, true));
        }
        let tail = &rates[300..];
        let lo = tail.iter().copied().fold(f64::MAX, f64::min);
        let hi = tail.iter().copied().fold(0.0, f64::max);
        assert!(lo > capacity * 0.5, "{lo}");
        assert!(hi < capacity * 1.6, "{hi}");
    }

    #[test]
    fn nothing_to_report_on_schedule() {
        let (lines, behind) = report(&Minute {
            schedule_lag: MS(30),
            finished_per_s: Some(100.0),
            wanted_per_s: 100.0,
            ..Minute::default()
        });
        assert!(lines.is_empty(), "{lines:?}");
        assert!(!behind);
    }

    #[test]
    fn behind_schedule_says_how_far_and_then_back() {
        let m = Minute {
            schedule_lag: MS(2300),
            finished_per_s: Some(3012.4),
            wanted_per_s: 10000.0,
            ..Minute::default()
        };
        let (lines, behind) = report(&m);
        assert!(behind);
        assert_eq!(
            lines,
            vec!["Warning: checks are behind schedule: started up to 2.3s late (3012 checks/s finished of 10000/s asked); every real server is still checked, less often"]
        );
        // Too early to say how many checks get done: only what is asked.
        let (lines, _) = report(&Minute {
            schedule_lag: MS(600),
            finished_per_s: None,
            wanted_per_s: 10000.0,
            ..Minute::default()
        });
        assert_eq!(
            lines,
            vec!["Warning: checks are behind schedule: started up to 0.60s late (10000 checks/s asked); every real server is still checked, less often"]
        );
        let (lines, behind) = report(&Minute {
            schedule_lag: MS(10),
            was_behind: true,
            ..Minute::default()
        });
        assert!(!behind);
        assert_eq!(lines, vec!["Checks are back on schedule"]);
    }

    #[test]
    fn checks_not_counted_are_reported_with_the_local_reason() {
        let (lines, _) = report(&Minute {
            stalled: 412,
            local: 37,
            local_reason: Some("connect failed: Too many open files (os error 24)".into()),
            ..Minute::default()
        });
        assert_eq!(lines.len(), 2);
        assert!(
            lines[0].starts_with(
                "Warning: the director was short of CPU; 412 check timeouts were not counted"
            ),
            "{}",
            lines[0]
        );
        assert!(
            lines[1].contains("37 checks failed for a reason of the director's own"),
            "{}",
            lines[1]
        );
        assert!(lines[1].contains("Too many open files"), "{}", lines[1]);
    }
}
