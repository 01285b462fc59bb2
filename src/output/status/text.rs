//! The status as a table for humans (`ldirectord-rs status`).

use super::Status;
use std::fmt::Write;

/// Render a status as a table for humans.
pub fn format_status(s: &Status) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "config {}  started {}  table operations {}  errors {}  reloads {} ({} failed)  resyncs {}",
        s.config,
        s.started,
        s.table_operations,
        s.table_errors,
        s.reloads,
        s.failed_reloads,
        s.resyncs
    );
    if s.schedule_lag_seconds >= 0.25 || s.checks_not_counted > 0 {
        let _ = writeln!(
            out,
            "checks behind schedule by {:.2}s  start rate {:.0}/s  results not counted {}",
            s.schedule_lag_seconds, s.check_start_rate, s.checks_not_counted
        );
    }
    for v in &s.virtuals {
        let fb = match (&v.fallback, v.fallback_active) {
            (Some(f), true) => format!("  fallback {f} ACTIVE"),
            (Some(f), false) => format!("  fallback {f}"),
            (None, _) => String::new(),
        };
        let _ = writeln!(
            out,
            "\n{} {}{}{}",
            v.virtual_,
            v.scheduler,
            fb,
            if v.in_table { "" } else { "  (not in table)" }
        );
        let _ = writeln!(
            out,
            "  {:<28} {:<8} {:<7} {:<6} {:<8} {:<10} REASON",
            "REAL", "STATE", "WEIGHT", "TABLE", "CHECKS", "LATENCY"
        );
        for r in &v.reals {
            let _ = writeln!(
                out,
                "  {:<28} {:<8} {:<7} {:<6} {:<8} {:<10} {}",
                r.real,
                r.state,
                r.weight,
                r.table_weight.map_or("-".to_string(), |w| w.to_string()),
                format!("{}/{}", r.checks - r.checks_failed, r.checks),
                r.last_latency_ms
                    .map_or("-".to_string(), |l| format!("{l:.1}ms")),
                r.last_reason.as_deref().unwrap_or("")
            );
        }
    }
    out
}
