//! Status and metrics: what the director believes about every real, what the
//! table holds, and counters, rendered on demand by the director task itself
//! (so an answer also proves the loop is alive).
//!
//! Served over HTTP when `statusaddress=` is set: `/status` (JSON),
//! `/metrics` (Prometheus text format), `/healthz` (`ok`). `ldirectord-rs
//! status` prints `/status` as a table.

use serde::{Deserialize, Serialize};
use std::fmt::Write;
use std::net::SocketAddr;
use tokio::sync::{mpsc, oneshot};

/// The whole status.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Status {
    pub config: String,
    pub started: String,
    pub table_operations: u64,
    pub table_errors: u64,
    pub reloads: u64,
    pub failed_reloads: u64,
    pub resyncs: u64,
    pub virtuals: Vec<VirtualStatus>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VirtualStatus {
    /// `tcp:10.0.0.100:80`, `fwm:10`.
    #[serde(rename = "virtual")]
    pub virtual_: String,
    pub scheduler: String,
    pub fallback: Option<String>,
    pub fallback_active: bool,
    /// Whether the service is in the table.
    pub in_table: bool,
    pub reals: Vec<RealStatus>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RealStatus {
    pub real: String,
    pub forward: String,
    /// Configured weight.
    pub weight: u32,
    /// Weight in the table, `None` when absent.
    pub table_weight: Option<u32>,
    /// `up`, `down` or `unknown` (not checked yet).
    pub state: String,
    pub check: String,
    pub checks: u64,
    pub checks_failed: u64,
    pub last_check: Option<String>,
    pub last_latency_ms: Option<f64>,
    pub last_reason: Option<String>,
}

/// What an HTTP client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Status,
    Metrics,
    Health,
}

/// A request to the director task.
pub struct Request {
    pub kind: Kind,
    pub reply: oneshot::Sender<String>,
}

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
    ] {
        family(
            &mut o,
            name,
            "counter",
            help,
            [(String::new(), val.to_string())],
        );
    }
    o
}

/// Serve `/status`, `/metrics` and `/healthz` on `addr`, asking the director
/// task through `tx` for each answer (5 s at most: a frozen director shows as
/// a 503).
pub async fn serve(listener: tokio::net::TcpListener, tx: mpsc::Sender<Request>) {
    use bytes::Bytes;
    use http_body_util::Full;
    use hyper::{Response, StatusCode};
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let tx = tx.clone();
        tokio::spawn(async move {
            let svc =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let tx = tx.clone();
                    async move {
                        let (kind, ctype) = match req.uri().path() {
                            "/status" => (Some(Kind::Status), "application/json"),
                            "/metrics" => (Some(Kind::Metrics), "text/plain; version=0.0.4"),
                            "/healthz" => (Some(Kind::Health), "text/plain"),
                            _ => (None, "text/plain"),
                        };
                        let resp = |code: StatusCode, body: String| {
                            Response::builder()
                                .status(code)
                                .header("content-type", ctype)
                                .body(Full::new(Bytes::from(body)))
                                .unwrap()
                        };
                        let Some(kind) = kind else {
                            return Ok::<_, std::convert::Infallible>(resp(
                                StatusCode::NOT_FOUND,
                                "try /status, /metrics or /healthz\n".into(),
                            ));
                        };
                        let (reply, rx) = oneshot::channel();
                        if tx.send(Request { kind, reply }).await.is_err() {
                            return Ok(resp(
                                StatusCode::SERVICE_UNAVAILABLE,
                                "director stopped\n".into(),
                            ));
                        }
                        Ok(
                            match tokio::time::timeout(std::time::Duration::from_secs(5), rx).await
                            {
                                Ok(Ok(body)) => resp(StatusCode::OK, body),
                                _ => resp(
                                    StatusCode::SERVICE_UNAVAILABLE,
                                    "director did not answer within 5s\n".into(),
                                ),
                            },
                        )
                    }
                });
            let io = hyper_util::rt::TokioIo::new(stream);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, svc)
                .await;
        });
    }
}

/// Fetch `path` from a status server (for `ldirectord-rs status`).
pub async fn fetch(addr: SocketAddr, path: &str) -> Result<String, String> {
    use http_body_util::BodyExt;
    let work = async {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let req = hyper::Request::get(path)
            .header("host", addr.to_string())
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .map_err(|e| e.to_string())?;
        let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
        let code = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        let body = String::from_utf8_lossy(&body).to_string();
        if code.is_success() {
            Ok(body)
        } else {
            Err(format!(
                "{addr}{path}: HTTP {}: {}",
                code.as_u16(),
                body.trim()
            ))
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), work)
        .await
        .map_err(|_| format!("{addr}{path}: timed out after 10s"))?
}
