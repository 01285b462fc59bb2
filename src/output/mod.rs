//! What the director tells the world, each through its own channel:
//!
//! - [`eventlog`]: the log operators tail, one line per event in
//!   ldirectord's phrases (file, syslog, stderr).
//! - [`status`]: the status model, rendered as JSON, a table for humans and
//!   Prometheus metrics, served over HTTP (`statusaddress=`).
//! - [`alert`]: email alerts (`emailalert`, `smtp`, ...): which events mail
//!   whom when, and the sending, without blocking the director.
//! - [`notify`]: systemd readiness and watchdog (`Type=notify`).
//! - [`console`]: standard output and error, written without panicking (a
//!   closed pipe, a full disk).

pub mod alert;
pub mod console;
pub mod eventlog;
pub mod notify;
pub mod status;
