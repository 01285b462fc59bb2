//! Status and metrics: what the director believes about every real, what the
//! table holds, and counters, answered by the director task itself (so an
//! answer also proves the loop is alive) from a rendering it shares between
//! every client (see `director::status_cache`).
//!
//! Served over HTTP when `statusaddress=` is set: `/status` (JSON),
//! `/metrics` (Prometheus text format), `/healthz` (`ok`). `ldirectord-rs
//! status` prints `/status` as a table.
//!
//! | file | job |
//! |---|---|
//! | `listener.rs` | the accept loop: `statusallow`, the connection cap, timeouts, accept back-off |
//! | `limits.rs` | the limits, and the cap derived from the open-files limit |
//! | `write_guard.rs` | the write timeout (a client that stops reading) |
//! | `http.rs` | one request's answer (GET/HEAD only); the `status` client |
//! | `metrics.rs`, `text.rs` | the Prometheus and human renderings |

mod http;
mod limits;
mod listener;
mod metrics;
mod text;
mod write_guard;

pub use http::fetch;
pub use limits::{check_files, Limits, FIXED_FILES};
pub use listener::serve;
pub use metrics::format_metrics;
pub use text::format_status;

use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

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

/// The page an HTTP client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// `/status`: the [`Status`] as JSON.
    Status,
    /// `/metrics`: Prometheus text.
    Metrics,
    /// `/healthz`: `ok`.
    Health,
}

/// A question to the director task: send `page` on `reply` (the bytes are
/// shared, not copied, between every client of one rendering).
pub struct StatusQuery {
    pub page: Page,
    pub reply: oneshot::Sender<bytes::Bytes>,
}
