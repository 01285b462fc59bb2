//! The director under overload, made visible: checks not counted (the
//! director could not run, or failed for a reason of its own) and how far
//! behind the schedule is, in a log line at most once a minute (the first
//! at once) and in status and metrics. What the lines say is
//! `core::pace::report`.

use super::Director;
use crate::core::pace::{self, Minute};
use ldirectord_checks::Inconclusive;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use tokio::time::Instant;

/// Reports come at most this often.
const REPORT_EVERY: Duration = Duration::from_secs(60);

/// The shortest period a rate of finished checks is given for.
const RATE_WINDOW: Duration = Duration::from_secs(5);

/// What the director tracks about its own overload.
#[derive(Debug, Default)]
pub(super) struct Overload {
    /// When report lines were last written (at most one batch a minute).
    last_report: Option<Instant>,
    /// Since the last report (or since there was last nothing to say).
    since: Minute,
    /// When `since` started, and the checks finished then.
    window: Option<(Instant, u64)>,
    /// The schedule lag of the last second (status, metrics).
    pub(super) schedule_lag: Duration,
    /// Checks not counted since the start (status, metrics).
    pub(super) not_counted: u64,
    /// Checks per second the configuration asks for.
    pub(super) wanted_per_s: f64,
}

impl Director {
    /// An inconclusive result: not counted against the real, counted here.
    pub(super) fn not_counted(&mut self, why: Inconclusive, reason: &str) {
        let o = &mut self.overload;
        o.not_counted += 1;
        match why {
            Inconclusive::Stalled => o.since.stalled += 1,
            Inconclusive::Local => {
                o.since.local += 1;
                o.since.local_reason = Some(reason.to_string());
            }
        }
    }

    /// Once a second: the schedule lag; the report lines when there is
    /// something to say (the first at once, then at most once a minute).
    pub(super) fn overload_tick(&mut self) {
        if let Some(lag) = self.admission.take_schedule_lag() {
            self.overload.schedule_lag = lag;
        }
        let finished = self.admission.finished.load(Relaxed);
        let now = Instant::now();
        let o = &mut self.overload;
        o.since.schedule_lag = o.since.schedule_lag.max(o.schedule_lag);
        let (start, finished_then) = *o.window.get_or_insert((now, finished));
        if o.last_report
            .is_some_and(|t| now.duration_since(t) < REPORT_EVERY)
        {
            return;
        }
        let seconds = now.duration_since(start).as_secs_f64();
        let mut m = o.since.clone();
        // Over less than a few seconds the rate says little (at start, none
        // has finished yet).
        m.finished_per_s = (seconds >= RATE_WINDOW.as_secs_f64())
            .then(|| finished.saturating_sub(finished_then) as f64 / seconds);
        m.wanted_per_s = o.wanted_per_s;
        let (lines, behind) = pace::report(&m);
        if !lines.is_empty() {
            o.last_report = Some(now);
        }
        o.since = Minute {
            was_behind: behind,
            ..Minute::default()
        };
        o.window = Some((now, finished));
        for l in lines {
            self.log.log(&l);
        }
    }
}
