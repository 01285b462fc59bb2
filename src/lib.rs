//! ldirectord-rs: a health-checking director for Linux IPVS.
//!
//! # Layout
//!
//! Every module, one line each, in the order data flows: a config becomes a
//! plan of checks; each check result goes through the pure health model and
//! table diff to the IPVS backend; what happened goes out to the log, the
//! status listener and alerts.
//!
//! - [`cli`]: the command line (clap definitions only); `main.rs` parses and
//!   calls [`commands::dispatch`].
//! - [`commands`]: one file per command (`run`, `check`, `configtest`,
//!   `status`, `convert`, `demo`).
//! - [`config`]: `ldirectord.cf` and YAML into one typed model, every error
//!   with `file:line`.
//! - [`core`]: the pure core, no tokio, no file system, no clock:
//!   [`core::plan`] (config to checks), [`core::health`] (failurecount,
//!   risecount), [`core::table`] (desired table and minimal diff),
//!   [`core::actual`] (the director's copy of the kernel table),
//!   [`core::events`] (each event rendered to ldirectord's phrase, once).
//! - `ldirectord_checks` (the `checks/` crate): the probes, one file per
//!   protocol, each with a hard total deadline.
//! - [`director`]: the select loop; a check result goes to the backend
//!   through `director/checks.rs` (the check task) and
//!   `director/on_result.rs` (health, diff, apply).
//! - [`ipvs`]: the [`ipvs::Ipvs`] trait and [`ipvs::types`], the in-memory
//!   backend, and the netlink backend (transport apart from wire encoding).
//! - [`output`]: the event log, status and metrics over HTTP, email alerts,
//!   systemd readiness.
//! - `sys`: every libc call, behind safe functions (`unsafe_code` is denied
//!   everywhere else).

pub mod cli;
pub mod commands;
pub mod config;
pub mod core;
pub mod director;
pub mod ipvs;
pub mod output;
#[allow(unsafe_code)]
pub mod sys;
