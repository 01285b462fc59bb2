//! [`run_attempts`]: a probe tried up to N times, as ldirectord's ping
//! check with `checkcount=N` (N echo attempts, each with the full
//! `checktimeout`).

use std::net::SocketAddr;
use std::time::Duration;

use crate::{run, Outcome, Probe};

/// Run `probe` until it is up, at most `attempts` times (at least once),
/// each attempt with its own `timeout`. Up on the first success; down with
/// the last attempt's reason (`(N attempts)` added when there were more
/// than one) and the whole time as latency.
pub async fn run_attempts(
    probe: &Probe,
    addr: SocketAddr,
    timeout: Duration,
    attempts: u32,
) -> Outcome {
    let attempts = attempts.max(1);
    let start = tokio::time::Instant::now();
    let mut last = run(probe, addr, timeout).await;
    for _ in 1..attempts {
        if last.up {
            break;
        }
        last = run(probe, addr, timeout).await;
    }
    if attempts > 1 {
        last.latency = start.elapsed();
        if !last.up {
            last.reason = format!("{} ({attempts} attempts)", last.reason);
        }
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn down_after_every_attempt_up_at_once() {
        let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let off = run_attempts(&Probe::Off, addr, Duration::from_secs(1), 3).await;
        assert!(!off.up);
        assert_eq!(off.reason, "off (3 attempts)");
        let on = run_attempts(&Probe::On, addr, Duration::from_secs(1), 3).await;
        assert!(on.up);
        assert_eq!(on.reason, "on");
        let one = run_attempts(&Probe::Off, addr, Duration::from_secs(1), 1).await;
        assert_eq!(one.reason, "off");
    }

    #[tokio::test]
    async fn each_attempt_has_the_whole_timeout() {
        // A command that outlives the timeout: three attempts take about
        // three timeouts.
        let p = Probe::External {
            command: "sleep".into(),
            args: vec!["5".into()],
        };
        let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let started = std::time::Instant::now();
        let o = run_attempts(&p, addr, Duration::from_millis(200), 3).await;
        let took = started.elapsed();
        assert!(!o.up);
        assert_eq!(o.reason, "timed out after 200ms (3 attempts)");
        assert!(took >= Duration::from_millis(600), "{took:?}");
        assert!(took < Duration::from_secs(3), "{took:?}");
    }
}
