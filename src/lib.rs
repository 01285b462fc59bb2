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
//! - [`output`]: what the director tells the world: the event log
//!   ([`output::eventlog`]), status and metrics over HTTP
//!   ([`output::status`]), email alerts ([`output::alert`]), systemd
//!   readiness ([`output::notify`]).
//! - [`demo`]: the self-contained demonstration behind `ldirectord-rs demo`.
//! - [`sys`]: every libc call, as small safe wrappers (`unsafe_code` is
//!   denied everywhere else).

#![deny(unsafe_code)]

pub mod cli;
pub mod config;
pub mod core;
pub mod demo;
pub mod director;
pub mod ipvs;
pub mod oneshot;
pub mod output;
#[allow(unsafe_code)]
pub mod sys;
pub mod testbed;

pub use self::core::{health, plan, table};
pub use output::{alert, eventlog, notify, status}; // SHIM(layout) // SHIM(layout)
