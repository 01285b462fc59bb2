//! `ldirectord-rs run`: the director in the foreground, programming the
//! kernel's IPVS table (or an in-memory one). SIGHUP reloads; SIGTERM/SIGINT
//! stop. The event log goes where `logfile=` says (standard error without
//! it); systemd (`Type=notify`) is told when the director serves.

use super::serve::{serve, Serve};
use crate::cli::Backend;
use crate::director::LogPolicy;
use crate::ipvs::{Ipvs, IpvsError};
use std::path::Path;

/// Run the director until it is stopped. `nofile` is the open-files limit in
/// force (warned about when too low for `maxchecks`).
pub fn run(path: &Path, backend: Backend, nofile: u64) -> i32 {
    let s = Serve {
        path,
        log: LogPolicy::Config,
        pidfile: None,
        nofile,
        instances: instance_command(backend),
    };
    serve(s, || open_backend(backend), crate::output::notify::ready)
}

/// Open the IPVS backend of that kind.
pub fn open_backend(kind: Backend) -> Result<Box<dyn Ipvs>, IpvsError> {
    Ok(match kind {
        Backend::Memory => Box::new(crate::ipvs::memory::MemoryIpvs::new()),
        Backend::Netlink => Box::new(crate::ipvs::netlink::NetlinkIpvs::connect()?),
    })
}

/// How this director runs the directors of `execute=`: this same program,
/// `-f CONFIG run --ipvs` the same backend.
pub fn instance_command(kind: Backend) -> Option<crate::director::InstanceCommand> {
    let program = std::env::current_exe().ok()?;
    let backend = match kind {
        Backend::Netlink => "netlink",
        Backend::Memory => "memory",
    };
    Some(crate::director::InstanceCommand {
        program,
        args: vec!["run".into(), "--ipvs".into(), backend.into()],
    })
}
