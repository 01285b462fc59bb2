//! FreeRADIUS (Debian's freeradius) for the radius tests and the oracle:
//! PAP against a `users` file in a temporary directory, client
//! `127.0.0.1` with secret `probe-secret`, in the foreground.

use std::path::Path;
use std::process::Command;

pub const BINARY: &str = "/usr/sbin/freeradius";
pub const SECRET: &str = "probe-secret";

const CONF: &str = r#"
prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = @DIR@
sbindir = /usr/sbin
logdir = @DIR@
raddbdir = @DIR@
radacctdir = @DIR@
name = freeradius
confdir = @DIR@
modconfdir = @DIR@
run_dir = @DIR@
db_dir = @DIR@
libdir = /usr/lib/freeradius
pidfile = @DIR@/radiusd.pid
max_request_time = 5
cleanup_delay = 0
max_requests = 1024
hostname_lookups = no
log {
	destination = stdout
	auth = yes
}
security {
	allow_core_dumps = no
}
thread pool {
	start_servers = 1
	max_servers = 2
	min_spare_servers = 1
	max_spare_servers = 2
}
client probe {
	ipaddr = 127.0.0.1
	secret = probe-secret
}
modules {
	pap {
	}
	files {
		filename = @DIR@/users
	}
}
server default {
	listen {
		type = auth
		ipaddr = 127.0.0.1
		port = @PORT@
	}
	authorize {
		files
		pap
	}
	authenticate {
		Auth-Type PAP {
			pap
		}
	}
@POST_AUTH@}
"#;

/// Write `dir/radiusd.conf` for UDP `port`; with `reject_message`, an
/// Access-Reject carries it as Reply-Message.
pub fn write_conf(dir: &Path, port: u16, reject_message: Option<&str>) {
    let post_auth = reject_message.map_or(String::new(), |m| {
        format!(
            "\tpost-auth {{\n\t\tPost-Auth-Type REJECT {{\n\t\t\tupdate reply {{\n\t\t\t\tReply-Message := \"{m}\"\n\t\t\t}}\n\t\t}}\n\t}}\n"
        )
    });
    let conf = CONF
        .replace("@DIR@", &dir.display().to_string())
        .replace("@PORT@", &port.to_string())
        .replace("@POST_AUTH@", &post_auth);
    std::fs::write(dir.join("radiusd.conf"), conf).unwrap();
}

/// freeradius in the foreground over the config in `dir`, logging to stdout.
pub fn command(dir: &Path) -> Command {
    let mut cmd = Command::new(BINARY);
    cmd.arg("-f").arg("-d").arg(dir).args(["-l", "stdout"]);
    cmd
}
