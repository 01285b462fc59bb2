//! The pure core: what the director decides, with no tokio, no file system
//! and no clock. Everything here is a function of its inputs, so it is tested
//! without a runtime and reads without surprises.
//!
//! In the order a check result flows through it:
//!
//! - [`plan`]: the checks to run, derived from the config (one per real and
//!   check parameters, shared by every virtual that lists that real).
//! - [`health`]: a state machine per check (failurecount, risecount).
//! - [`table`]: the desired IPVS table as a function of config + health, and
//!   the minimal diff ([`table::Change`]s) against the actual table.
//! - [`actual`]: the director's copy of the kernel table, built from a dump
//!   and kept up to date with each change the backend accepted.
//! - [`events`]: what each change (or soft failure) is called, rendered to
//!   ldirectord's log phrase in one place.
//! - [`pace`]: degrading under overload: the rate checks may start at, and
//!   the once-a-minute report of how far behind the schedule is.

pub mod actual;
pub mod events;
pub mod health;
pub mod pace;
pub mod plan;
pub mod table;
