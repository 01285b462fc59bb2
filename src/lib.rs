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
pub mod demo;
pub mod director;
pub mod health;
pub mod ipvs;
pub mod oneshot;
pub mod output;
pub mod plan;
#[allow(unsafe_code)]
pub mod sys;
pub mod table;
pub mod testbed;

pub use output::{alert, eventlog, notify, status}; // SHIM(layout)
