//! ldirectord-rs: a health-checking director for Linux IPVS.
//!
//! Follow one check result to one netlink message:
//!
//! - [`config`]: `ldirectord.cf` and YAML into one typed model.
//! - [`plan`]: the checks to run, derived from the config (one per real and
//!   check parameters, shared by every virtual that lists that real).
//! - `ldirectord_checks` (the `checks/` crate): the probes themselves.
//! - [`health`]: a pure state machine per check (failurecount, risecount).
//! - [`table`]: the desired IPVS table as a pure function of config + health,
//!   and the minimal diff against the actual table.
//! - [`ipvs`]: the [`ipvs::Ipvs`] trait, the in-memory and netlink backends.
//! - [`director`]: the scheduler loop that ties them together, reloads and
//!   resyncs.
//! - [`eventlog`]: the log file operators tail (ldirectord's phrases).
//! - [`alert`]: email alerts (`emailalert`, `smtp`, ...), sent without
//!   blocking the director.
//! - [`cli`]: the command line (clap definitions only).
//! - [`commands`]: one file per command (`run`, `check`, `configtest`,
//!   `status`, `demo`, `convert`); `main.rs` parses and dispatches.
//! - `sys`: every libc call, behind safe functions.

pub mod alert;
pub mod cli;
pub mod commands;
pub mod config;
pub mod director;
pub mod eventlog;
pub mod health;
pub mod ipvs;
pub mod notify;
pub mod plan;
pub mod status;
mod sys;
pub mod table;

pub use commands::check as oneshot; // SHIM(layout)
pub use commands::demo; // SHIM(layout)
pub use commands::demo::testbed; // SHIM(layout)
