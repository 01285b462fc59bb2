//! The status in the Prometheus text exposition format (`/metrics`).

use super::{RealStatus, Status};
use std::fmt::Write;

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Write one metric family: its HELP and TYPE lines, then `name{labels} value` rows.
fn family(
    o: &mut String,
    name: &str,
    kind: &str,
    help: &str,
    rows: impl IntoIterator<Item = (String, String)>,
) {
    let _ = writeln!(
        o,
        "# HELP ldirectord_{name} {help}\n# TYPE ldirectord_{name} {kind}"
    );
    for (labels, value) in rows {
        let _ = writeln!(o, "ldirectord_{name}{labels} {value}");
    }
}

/// Render a status in the Prometheus text exposition format.
pub fn format_metrics(s: &Status) -> String {
    let mut o = String::new();
    let per_real = |f: &dyn Fn(&RealStatus) -> Option<String>| -> Vec<(String, String)> {
        s.virtuals
            .iter()
            .flat_map(|v| {
                v.reals.iter().filter_map(move |r| {
                    f(r).map(|val| {
                        (
                            format!(
                                "{{virtual=\"{}\",real=\"{}\"}}",
                                esc(&v.virtual_),
                                esc(&r.real)
                            ),
                            val,
                        )
                    })
                })
            })
            .collect()
    };
    let up = |r: &RealStatus| {
        Some(
            match r.state.as_str() {
                "up" => "1",
                "down" => "0",
                _ => "-1",
            }
            .to_string(),
        )
    };
    family(
        &mut o,
        "real_up",
        "gauge",
        "1 if the real server is up, 0 if down, -1 if not checked yet.",
        per_real(&up),
    );
    let weight = |r: &RealStatus| r.table_weight.map(|w| w.to_string());
    family(
        &mut o,
        "real_weight",
        "gauge",
        "Weight of the real server in the IPVS table (absent: not in the table).",
        per_real(&weight),
    );
    family(
        &mut o,
        "checks_total",
        "counter",
        "Checks run against the real server.",
        per_real(&|r| Some(r.checks.to_string())),
    );
    family(
        &mut o,
        "checks_failed_total",
        "counter",
        "Checks of the real server that failed.",
        per_real(&|r| Some(r.checks_failed.to_string())),
    );
    let latency = |r: &RealStatus| r.last_latency_ms.map(|l| (l / 1000.0).to_string());
    family(
        &mut o,
        "check_latency_seconds",
        "gauge",
        "Duration of the last check of the real server.",
        per_real(&latency),
    );
    let fb = s.virtuals.iter().filter(|v| v.fallback.is_some()).map(|v| {
        (
            format!("{{virtual=\"{}\"}}", esc(&v.virtual_)),
            u8::from(v.fallback_active).to_string(),
        )
    });
    family(
        &mut o,
        "fallback_active",
        "gauge",
        "1 when the fallback server is serving the virtual.",
        fb,
    );
    for (name, help, val) in [
        (
            "table_operations_total",
            "IPVS table operations applied.",
            s.table_operations,
        ),
        (
            "table_errors_total",
            "IPVS table operations the kernel refused.",
            s.table_errors,
        ),
        (
            "reloads_total",
            "Configuration reloads that succeeded.",
            s.reloads,
        ),
        (
            "reloads_failed_total",
            "Configuration reloads rejected (the old config kept serving).",
            s.failed_reloads,
        ),
        (
            "resyncs_total",
            "Times the live table was re-read.",
            s.resyncs,
        ),
        (
            "checks_not_counted_total",
            "Check results not counted against their real server: the director could not run for much of the check, or failed for a reason of its own.",
            s.checks_not_counted,
        ),
    ] {
        family(
            &mut o,
            name,
            "counter",
            help,
            [(String::new(), val.to_string())],
        );
    }
    for (name, help, val) in [
        (
            "schedule_lag_seconds",
            "How late the checks that started in the last second started, past their due time (0: on schedule).",
            s.schedule_lag_seconds,
        ),
        (
            "check_start_rate",
            "Checks per second the director lets start, adapted to what the machine finishes.",
            s.check_start_rate,
        ),
    ] {
        family(
            &mut o,
            name,
            "gauge",
            help,
            [(String::new(), val.to_string())],
        );
    }
    o
}
