//! `ldirectord-rs status`: ask a running director what it believes (every
//! real's state, weight in the table, checks and last reason), from the
//! status listener at its `statusaddress`.
use crate::output::console::{errln, out};

use std::net::SocketAddr;
use std::path::Path;

/// Print the status (a table, `--json` the raw JSON, `--metrics` the
/// Prometheus metrics) of the director listening at `address`, or else at
/// the config's `statusaddress`.
pub fn run(path: &Path, json: bool, metrics: bool, address: Option<SocketAddr>) -> i32 {
    let addr = match address {
        Some(a) => a,
        None => match super::load_config(path) {
            Ok(c) => match c.global.statusaddress {
                Some(a) => a,
                None => {
                    errln!(
                        "{}: no statusaddress is configured (or pass --address)",
                        path.display()
                    );
                    return super::EXIT_CONFIG;
                }
            },
            Err(code) => return code,
        },
    };
    let what = if metrics { "/metrics" } else { "/status" };
    match super::runtime().block_on(crate::output::status::fetch(addr, what)) {
        Err(e) => {
            errln!("ldirectord-rs: {e}");
            1
        }
        Ok(body) if json || metrics => {
            out!("{body}");
            0
        }
        Ok(body) => match serde_json::from_str::<crate::output::status::Status>(&body) {
            Ok(s) => {
                out!("{}", crate::output::status::format_status(&s));
                0
            }
            Err(e) => {
                errln!("ldirectord-rs: unexpected status from {addr}: {e}");
                1
            }
        },
    }
}
