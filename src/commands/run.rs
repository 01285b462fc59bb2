//! `ldirectord-rs run`: the director in the foreground, programming the
//! kernel's IPVS table (or an in-memory one). SIGHUP reloads; SIGTERM/SIGINT
//! stop.
use crate::output::console::errln;

use crate::cli::Backend;
use crate::director::{Director, StartError};
use crate::ipvs::{Ipvs, IpvsError};
use crate::output::status;
use std::path::Path;

/// Run the director until it is stopped. `nofile` is the open-files limit in
/// force (warned about when too low for `maxchecks`).
pub fn run(path: &Path, backend: Backend, nofile: u64) -> i32 {
    // Validate the config before touching the kernel.
    let config = match super::load_config(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    // Files the checks may hold at once (one socket per check in flight).
    let maxchecks = config.global.maxchecks as u64;
    let check_files = status::check_files(&config);
    if nofile < check_files + status::FIXED_FILES {
        errln!(
            "ldirectord-rs: warning: the open-files limit is {nofile}, too low for maxchecks={maxchecks}: lower maxchecks or raise LimitNOFILE"
        );
    }
    let instances = instance_command(backend);
    let backend = match open_backend(backend) {
        Ok(b) => b,
        Err(e) => {
            errln!("ldirectord-rs: {e}");
            return e.exit_code();
        }
    };
    super::runtime().block_on(serve(path, backend, nofile, check_files, instances))
}

/// How this director runs the directors of `execute=`: this same program,
/// `-f CONFIG run --ipvs` the same backend.
fn instance_command(kind: Backend) -> Option<crate::director::InstanceCommand> {
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

fn open_backend(kind: Backend) -> Result<Box<dyn Ipvs>, IpvsError> {
    Ok(match kind {
        Backend::Memory => Box::new(crate::ipvs::memory::MemoryIpvs::new()),
        Backend::Netlink => Box::new(crate::ipvs::netlink::NetlinkIpvs::connect()?),
    })
}

/// Start the director on `backend`, its status listener (its connections
/// kept below the open-files limit `nofile`, leaving the checks their
/// `check_files`) and signal handlers, tell systemd it is ready, and run it
/// until it stops.
async fn serve(
    path: &Path,
    backend: Box<dyn Ipvs>,
    nofile: u64,
    check_files: u64,
    instances: Option<crate::director::InstanceCommand>,
) -> i32 {
    let mut director = match Director::start(path, backend) {
        Ok(d) => d,
        Err(e @ StartError::Config(_)) => {
            errln!("{e}");
            return e.exit_code();
        }
        Err(e) => {
            errln!("ldirectord-rs: {e}");
            return e.exit_code();
        }
    };
    if let Some(c) = instances {
        director.set_instance_command(c);
    }
    if let Some(addr) = director.config().global.statusaddress {
        match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => {
                let allow = director.config().global.statusallow.clone();
                let limits = status::Limits::new(nofile, check_files, allow);
                tokio::spawn(status::serve(l, director.status_sender(), limits));
            }
            Err(e) => {
                errln!("ldirectord-rs: cannot listen on statusaddress {addr}: {e}");
                return 1;
            }
        }
    }
    let control = match crate::director::signals() {
        Ok(c) => c,
        Err(e) => {
            errln!("ldirectord-rs: cannot install signal handlers: {e}");
            return 1;
        }
    };
    crate::output::notify::ready();
    director.run(control).await;
    0
}
