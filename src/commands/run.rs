//! `ldirectord-rs run`: the director in the foreground, programming the
//! kernel's IPVS table (or an in-memory one). SIGHUP reloads; SIGTERM/SIGINT
//! stop.

use crate::cli::Backend;
use crate::config::Config;
use crate::director::Director;
use crate::ipvs::{Ipvs, IpvsError};
use crate::output::eventlog::EventLog;
use crate::output::status;
use std::path::Path;

/// Run the director until it is stopped. `nofile` is the open-files limit in
/// force (warned about when too low for `maxchecks`).
pub fn run(path: &Path, backend: Backend, nofile: u64) -> i32 {
    // Validate the config before touching the kernel (read once: the
    // director starts from this one).
    let config = match super::load_config(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    // Files the checks may hold at once (one socket per check in flight).
    let maxchecks = config.global.maxchecks as u64;
    let check_files = status::check_files(&config);
    if nofile < check_files + status::FIXED_FILES {
        eprintln!(
            "ldirectord-rs: warning: the open-files limit is {nofile}, too low for maxchecks={maxchecks}: lower maxchecks or raise LimitNOFILE"
        );
    }
    let log = match EventLog::open(config.global.logfile.as_ref()) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("ldirectord-rs: cannot open log: {e}");
            return 6;
        }
    };
    let instances = instance_command(backend);
    let backend = match open_backend(backend) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("ldirectord-rs: {e}");
            return e.exit_code();
        }
    };
    let s = Serve {
        path,
        config,
        log,
        nofile,
        check_files,
        instances,
    };
    super::runtime().block_on(serve(s, backend))
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

/// What `run` has ready before the director starts.
struct Serve<'a> {
    path: &'a Path,
    /// The config, read once.
    config: Config,
    log: EventLog,
    /// The open-files limit in force.
    nofile: u64,
    /// The files the checks may hold at once.
    check_files: u64,
    /// How to run the directors of `execute=`.
    instances: Option<crate::director::InstanceCommand>,
}

/// Take over the signals, bind the status listener (its connections kept
/// below the open-files limit, leaving the checks their files), start the
/// director on `backend`, and run it until it stops; systemd is told READY=1
/// when the director serves (after the first round of checks, see
/// [`Director::on_ready`]).
async fn serve(s: Serve<'_>, backend: Box<dyn Ipvs>) -> i32 {
    let Serve {
        path,
        config,
        log,
        nofile,
        check_files,
        instances,
    } = s;
    // First the signals (held since `main` began): from here a SIGHUP or a
    // SIGTERM waits in the queue for the director loop.
    let control = match crate::director::signals() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ldirectord-rs: cannot install signal handlers: {e}");
            return 1;
        }
    };
    let listener = match config.global.statusaddress {
        None => None,
        Some(addr) => match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => Some(l),
            Err(e) => {
                eprintln!("ldirectord-rs: cannot listen on statusaddress {addr}: {e}");
                return 1;
            }
        },
    };
    let allow = config.global.statusallow.clone();
    let mut director = match Director::with_config(path, config, backend, log) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("ldirectord-rs: {e}");
            return e.exit_code();
        }
    };
    if let Some(c) = instances {
        director.set_instance_command(c);
    }
    if let Some(l) = listener {
        let limits = status::Limits::new(nofile, check_files, allow);
        tokio::spawn(status::serve(l, director.status_sender(), limits));
    }
    director.on_ready(crate::output::notify::ready);
    director.run(control).await;
    0
}
