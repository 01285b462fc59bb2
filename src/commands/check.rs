//! `ldirectord-rs check`: run every configured check once, concurrently, and
//! report one row per (virtual, real). Never touches IPVS.

use crate::config::Config;
use crate::core::events::fmt_virtual;
use crate::core::plan::Plan;
use crate::output::console::{errln, out, outln};
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;

/// Check the reals of the config at `path` (those the filters select) and
/// print the rows (a table, or JSON). Exit code 0 when every real is up, 1
/// when one is down or none matched.
pub fn run(
    path: &Path,
    json: bool,
    virtual_filter: Option<&str>,
    real_filter: Option<&str>,
) -> i32 {
    let config = match super::load_config(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let rows = super::runtime().block_on(check_all(&config, virtual_filter, real_filter));
    if json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        );
    } else {
        out!("{}", format_rows(&rows));
    }
    if rows.is_empty() {
        errln!("no real server matched");
        1
    } else if rows.iter().all(|r| r.up) {
        0
    } else {
        1
    }
}

/// One row of the report.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    #[serde(rename = "virtual")]
    pub virtual_: String,
    pub real: String,
    pub check: String,
    pub up: bool,
    pub latency_ms: f64,
    pub reason: String,
}

/// Filters: a virtual or real matches when its printed form equals the
/// filter or starts with it followed by `:` (so `10.0.0.2` matches
/// `10.0.0.2:80`).
fn matches(filter: Option<&str>, value: &str) -> bool {
    match filter {
        None => true,
        Some(f) => {
            value == f
                || value
                    .strip_prefix(f)
                    .is_some_and(|rest| rest.starts_with(':'))
        }
    }
}

/// Run the checks once. Each distinct check runs once even if several
/// virtuals list the real.
pub async fn check_all(
    config: &Config,
    virtual_filter: Option<&str>,
    real_filter: Option<&str>,
) -> Vec<Row> {
    let plan = Plan::new(config);
    let mut wanted = Vec::new();
    for (vi, v) in config.virtuals.iter().enumerate() {
        let vname = fmt_virtual(&v.key);
        let vfull = v.key.to_string();
        if !(matches(virtual_filter, &vname) || matches(virtual_filter, &vfull)) {
            continue;
        }
        for (ri, r) in v.reals.iter().enumerate() {
            if matches(real_filter, &r.addr.to_string()) {
                wanted.push((vname.clone(), r.addr.to_string(), plan.spec(vi, ri).clone()));
            }
        }
    }
    // As many in flight as the daemon would allow.
    let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(config.global.maxchecks.max(1)));
    let mut tasks = HashMap::new();
    for (_, _, spec) in &wanted {
        if !tasks.contains_key(spec) {
            let s = spec.clone();
            let limit = limit.clone();
            tasks.insert(
                spec.clone(),
                tokio::spawn(async move {
                    let _permit = limit.acquire_owned().await;
                    match s.probe() {
                        Ok(p) => {
                            ldirectord_checks::run_attempts(&p, s.target, s.timeout, s.attempts)
                                .await
                        }
                        Err(e) => ldirectord_checks::Outcome {
                            up: false,
                            latency: std::time::Duration::ZERO,
                            reason: e.to_string(),
                            cert_not_after: None,
                        },
                    }
                }),
            );
        }
    }
    let mut outcomes = HashMap::new();
    for (spec, t) in tasks {
        let o = t.await.unwrap_or_else(|e| ldirectord_checks::Outcome {
            up: false,
            latency: std::time::Duration::ZERO,
            reason: format!("check crashed: {e}"),
            cert_not_after: None,
        });
        outcomes.insert(spec, o);
    }
    wanted
        .into_iter()
        .map(|(v, r, spec)| {
            let o = &outcomes[&spec];
            Row {
                virtual_: v,
                real: r,
                check: spec.describe(),
                up: o.up,
                latency_ms: (o.latency.as_secs_f64() * 1e4).round() / 10.0,
                reason: o.reason.clone(),
            }
        })
        .collect()
}

/// Render rows as an aligned table.
pub fn format_rows(rows: &[Row]) -> String {
    let headers = ["VIRTUAL", "REAL", "CHECK", "VERDICT", "LATENCY", "REASON"];
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            [
                r.virtual_.clone(),
                r.real.clone(),
                r.check.clone(),
                if r.up { "up" } else { "down" }.to_string(),
                format!("{:.1}ms", r.latency_ms),
                r.reason.clone(),
            ]
        })
        .collect();
    let mut width = headers.map(str::len);
    for c in &cells {
        for (i, s) in c.iter().enumerate() {
            width[i] = width[i].max(s.len());
        }
    }
    let mut out = String::new();
    let mut line = |c: &[String]| {
        let mut l = String::new();
        for (i, s) in c.iter().enumerate() {
            if i + 1 == c.len() {
                l.push_str(s);
            } else {
                l.push_str(&format!("{:<w$}  ", s, w = width[i]));
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&headers.map(String::from));
    for c in &cells {
        line(c);
    }
    out
}
