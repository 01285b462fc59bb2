//! The health model: a pure state machine per check, no clock, no I/O.
//!
//! A check starts [`State::Unknown`]: the director leaves the kernel's entry
//! for it exactly as it finds it (a real adopted from a running table keeps its
//! weight and connections; a missing one is not added) until the first result.
//! From `Unknown`, one result decides: up → `Up`, down → `Down` (an unverified
//! real is never put in service). After that, `failurecount` failures in a row
//! take an `Up` real down (fewer are soft failures), and `risecount` successes
//! in a row bring a `Down` real back (1 = ldirectord's behaviour).

/// What the director believes about a real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Not checked yet.
    Unknown,
    Up,
    Down,
}

/// Thresholds from the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// Failures in a row that take an up real down (>= 1).
    pub failurecount: u32,
    /// Successes in a row that bring a down real up (>= 1).
    pub risecount: u32,
}

/// What one observation changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Nothing worth telling.
    None,
    /// Became up (from Unknown or Down).
    WentUp,
    /// Became down (from Unknown or Up).
    WentDown,
    /// An up real failed, `failures` of `failurecount`; still up.
    SoftFailure { failures: u32, failurecount: u32 },
    /// A down real succeeded, `successes` of `risecount`; still down.
    SoftRise { successes: u32, risecount: u32 },
}

/// The health of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    state: State,
    /// Failures in a row while up.
    failures: u32,
    /// Successes in a row while down.
    successes: u32,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            state: State::Unknown,
            failures: 0,
            successes: 0,
        }
    }
}

impl Health {
    pub fn state(&self) -> State {
        self.state
    }

    /// Record one check result.
    pub fn observe(&mut self, up: bool, th: Thresholds) -> Transition {
        let failurecount = th.failurecount.max(1);
        let risecount = th.risecount.max(1);
        match (self.state, up) {
            (State::Unknown, true) => self.become_(State::Up, Transition::WentUp),
            (State::Unknown, false) => self.become_(State::Down, Transition::WentDown),
            (State::Up, true) => {
                self.failures = 0;
                Transition::None
            }
            (State::Up, false) => {
                self.failures += 1;
                if self.failures >= failurecount {
                    self.become_(State::Down, Transition::WentDown)
                } else {
                    Transition::SoftFailure {
                        failures: self.failures,
                        failurecount,
                    }
                }
            }
            (State::Down, false) => {
                self.successes = 0;
                Transition::None
            }
            (State::Down, true) => {
                self.successes += 1;
                if self.successes >= risecount {
                    self.become_(State::Up, Transition::WentUp)
                } else {
                    Transition::SoftRise {
                        successes: self.successes,
                        risecount,
                    }
                }
            }
        }
    }

    /// Force down at once, whatever the counts (maintenance).
    pub fn force_down(&mut self) -> Transition {
        if self.state == State::Down {
            self.successes = 0;
            Transition::None
        } else {
            self.become_(State::Down, Transition::WentDown)
        }
    }

    fn become_(&mut self, state: State, t: Transition) -> Transition {
        self.state = state;
        self.failures = 0;
        self.successes = 0;
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn th(f: u32, r: u32) -> Thresholds {
        Thresholds {
            failurecount: f,
            risecount: r,
        }
    }

    /// Feed a sequence of results; return the transitions.
    fn run(h: &mut Health, t: Thresholds, seq: &str) -> Vec<Transition> {
        seq.chars().map(|c| h.observe(c == '+', t)).collect()
    }

    #[test]
    fn first_result_decides_from_unknown() {
        let mut h = Health::default();
        assert_eq!(h.state(), State::Unknown);
        assert_eq!(h.observe(false, th(3, 2)), Transition::WentDown);
        let mut h = Health::default();
        assert_eq!(h.observe(true, th(3, 2)), Transition::WentUp);
        assert_eq!(h.state(), State::Up);
    }

    #[test]
    fn failurecount_soft_failures_then_down() {
        let mut h = Health::default();
        let t = th(3, 1);
        h.observe(true, t);
        let tr = run(&mut h, t, "--");
        assert_eq!(
            tr,
            vec![
                Transition::SoftFailure {
                    failures: 1,
                    failurecount: 3
                },
                Transition::SoftFailure {
                    failures: 2,
                    failurecount: 3
                }
            ]
        );
        assert_eq!(h.state(), State::Up);
        assert_eq!(h.observe(false, t), Transition::WentDown);
        assert_eq!(h.state(), State::Down);
    }

    #[test]
    fn a_success_resets_the_failure_count() {
        let mut h = Health::default();
        let t = th(2, 1);
        h.observe(true, t);
        let tr = run(&mut h, t, "-+-+-+");
        assert!(
            tr.iter().all(|x| !matches!(x, Transition::WentDown)),
            "{tr:?}"
        );
        assert_eq!(h.state(), State::Up);
        assert_eq!(run(&mut h, t, "--").last(), Some(&Transition::WentDown));
    }

    #[test]
    fn risecount_needs_successes_in_a_row() {
        let mut h = Health::default();
        let t = th(1, 3);
        h.observe(false, t);
        let tr = run(&mut h, t, "++-++");
        assert_eq!(h.state(), State::Down, "{tr:?}");
        assert_eq!(h.observe(true, t), Transition::WentUp);
    }

    #[test]
    fn risecount_one_is_ldirectord_behaviour() {
        let mut h = Health::default();
        let t = th(1, 1);
        assert_eq!(
            run(&mut h, t, "-+-+"),
            vec![
                Transition::WentDown,
                Transition::WentUp,
                Transition::WentDown,
                Transition::WentUp
            ]
        );
    }

    #[test]
    fn force_down_ignores_counts() {
        let mut h = Health::default();
        let t = th(5, 1);
        h.observe(true, t);
        assert_eq!(h.force_down(), Transition::WentDown);
        assert_eq!(h.force_down(), Transition::None);
        assert_eq!(h.observe(true, t), Transition::WentUp);
    }

    #[test]
    fn zero_thresholds_behave_as_one() {
        let mut h = Health::default();
        let t = th(0, 0);
        h.observe(true, t);
        assert_eq!(h.observe(false, t), Transition::WentDown);
        assert_eq!(h.observe(true, t), Transition::WentUp);
    }
}
