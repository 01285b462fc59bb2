//! ldirectord-rs: a health-checking director for Linux IPVS.
//!
//! Follow one check result to one netlink message:
//!
//! - [`config`]: `ldirectord.cf` and YAML into one typed model.
//! - [`core`]: the pure core (no tokio, no file system, no
//!   clock):
//!   - [`core::plan`]: the checks to run, derived from the config (one per
//!     real and check parameters, shared by every virtual that lists that
//!     real).
//!   - [`core::health`]: a state machine per check (failurecount, risecount).
//!   - [`core::table`]: the desired IPVS table as a function of config +
//!     health, and the minimal diff against the actual table.
//!   - [`core::actual`]: the director's copy of the kernel table.
//!   - [`core::events`]: each table event and soft failure, rendered to
//!     ldirectord's log phrase in one place.
//! - `ldirectord_checks` (the `checks/` crate): the probes themselves.
//! - [`ipvs`]: the [`ipvs::Ipvs`] trait, the in-memory and netlink backends.
//! - [`director`]: the scheduler loop that ties them together (a check
//!   result goes to the backend through `director/on_result.rs`), reloads
//!   and resyncs.
//! - [`eventlog`]: the log file operators tail (ldirectord's phrases).
//! - [`alert`]: email alerts (`emailalert`, `smtp`, ...), sent without
//!   blocking the director.
//! - [`demo`]: the self-contained demonstration behind `ldirectord-rs demo`.

pub mod alert;
pub mod cli;
pub mod config;
pub mod core;
pub mod demo;
pub mod director;
pub mod eventlog;
pub mod ipvs;
pub mod notify;
pub mod oneshot;
pub mod status;
pub mod testbed;

// SHIM(layout): the old paths of the modules now under `core`.
pub use self::core::{health, plan, table};
