//! ldirectord's own command line, beside the subcommands:
//!
//! ```text
//! ldirectord-rs [-d] [-h] [--] [CONF] start|stop|restart|try-restart|reload|force-reload|status
//! ldirectord-rs -v
//! ```
//!
//! Recognised before clap sees the arguments (clap cannot have an optional
//! positional before a subcommand): options first (`-d`/`--debug`,
//! `-h`/`-?`/`--help`, `-v`/`--version`, bundled as `-dh`; ldirectord's
//! getopt stops at the first other word, and so does this), then one or two
//! words, the last of them a verb. Anything else is the subcommands' form
//! (`-f FILE run`, `status --json`, ...), for clap.

use std::ffi::OsString;

/// What an init script, a cluster agent or an administrator asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Start,
    Stop,
    Restart,
    TryRestart,
    Reload,
    ForceReload,
    Status,
}

impl Verb {
    /// The verb named `s`, as ldirectord spells it.
    pub fn from_word(s: &str) -> Option<Verb> {
        Some(match s {
            "start" => Verb::Start,
            "stop" => Verb::Stop,
            "restart" => Verb::Restart,
            "try-restart" => Verb::TryRestart,
            "reload" => Verb::Reload,
            "force-reload" => Verb::ForceReload,
            "status" => Verb::Status,
            _ => return None,
        })
    }

    pub fn word(self) -> &'static str {
        match self {
            Verb::Start => "start",
            Verb::Stop => "stop",
            Verb::Restart => "restart",
            Verb::TryRestart => "try-restart",
            Verb::Reload => "reload",
            Verb::ForceReload => "force-reload",
            Verb::Status => "status",
        }
    }
}

/// ldirectord's form of the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lsb {
    /// `-d`: in the foreground, debug output on standard error.
    pub debug: bool,
    /// `-h`: the usage, nothing else.
    pub help: bool,
    /// `-v`: the version, nothing else.
    pub version: bool,
    /// The config as given (`None`: ldirectord's default).
    pub conf: Option<OsString>,
    /// `None` only with `-h` or `-v` and no verb.
    pub verb: Option<Verb>,
}

/// The usage of ldirectord's form (`-h`).
pub const USAGE: &str = "\
usage: ldirectord-rs [-d] [-h] [--] [CONF] start|stop|restart|try-restart|reload|force-reload|status
       ldirectord-rs -v
       ldirectord-rs [-f FILE] COMMAND ...   (ldirectord-rs --help lists the commands)

As ldirectord: CONF defaults to /etc/ha.d/ldirectord.cf; a relative name is
looked up in /etc/ha.d/, then /etc/ha.d/conf/, then the current directory.
`start` runs the director as a daemon (pid file /var/run/ldirectord.NAME.pid,
log /var/log/ldirectord.log unless logfile= says otherwise) and returns once it
serves; -d keeps it in the foreground, logging and debug output on standard
error. `status` exits 0 running, 3 stopped, 1 stale pid file.";

/// ldirectord's form, if `args` (the whole `argv`, program name first) is
/// in it; `None` for the subcommands' form.
pub fn parse(args: &[OsString]) -> Option<Lsb> {
    let mut lsb = Lsb {
        debug: false,
        help: false,
        version: false,
        conf: None,
        verb: None,
    };
    let mut rest = args.get(1..).unwrap_or_default();
    // Options, up to the first other word (or `--`).
    while let Some(first) = rest.first() {
        let s = first.to_str()?;
        if s == "--" {
            rest = &rest[1..];
            break;
        }
        if !s.starts_with('-') || s == "-" {
            break;
        }
        match s {
            "--debug" => lsb.debug = true,
            "--help" => lsb.help = true,
            "--version" => lsb.version = true,
            _ if s.starts_with("--") => return None,
            _ => {
                for c in s[1..].chars() {
                    match c {
                        'd' => lsb.debug = true,
                        'h' | '?' => lsb.help = true,
                        'v' => lsb.version = true,
                        _ => return None,
                    }
                }
            }
        }
        rest = &rest[1..];
    }
    match rest {
        // `-v`, `-h -v`: ldirectord's version (`-h` alone is clap's help,
        // which shows both forms).
        [] if lsb.version => Some(lsb),
        [verb] => {
            lsb.verb = Some(Verb::from_word(verb.to_str()?)?);
            Some(lsb)
        }
        [conf, verb] => {
            lsb.verb = Some(Verb::from_word(verb.to_str()?)?);
            if conf.is_empty() {
                return None;
            }
            lsb.conf = Some(conf.clone());
            Some(lsb)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    fn p(args: &[&str]) -> Option<Lsb> {
        let mut v: Vec<OsString> = vec!["ldirectord-rs".into()];
        v.extend(args.iter().map(OsString::from));
        parse(&v)
    }

    #[test]
    fn ldirectords_forms() {
        let l = p(&["start"]).unwrap();
        assert_eq!((l.conf, l.verb, l.debug), (None, Some(Verb::Start), false));
        let l = p(&["/etc/ha.d/ldirectord.cf", "start"]).unwrap();
        assert_eq!(
            l.conf.as_deref(),
            Some(OsStr::new("/etc/ha.d/ldirectord.cf"))
        );
        let l = p(&["-d", "ldirectord.cf", "start"]).unwrap();
        assert!(l.debug);
        assert_eq!(l.conf.as_deref(), Some(OsStr::new("ldirectord.cf")));
        let l = p(&["--debug", "--", "-weird.cf", "status"]).unwrap();
        assert!(l.debug);
        assert_eq!(l.conf.as_deref(), Some(OsStr::new("-weird.cf")));
        assert_eq!(l.verb, Some(Verb::Status));
        for w in [
            "start",
            "stop",
            "restart",
            "try-restart",
            "reload",
            "force-reload",
            "status",
        ] {
            assert_eq!(p(&["x.cf", w]).unwrap().verb.unwrap().word(), w);
        }
        let l = p(&["-dh", "start"]).unwrap();
        assert!(l.debug && l.help);
        let l = p(&["-v"]).unwrap();
        assert!(l.version && l.verb.is_none());
    }

    #[test]
    fn the_subcommands_are_left_to_clap() {
        assert_eq!(p(&["-f", "x.yaml", "run"]), None);
        assert_eq!(p(&["-f", "x.yaml", "status"]), None);
        assert_eq!(p(&["status", "--json"]), None);
        assert_eq!(p(&["run"]), None);
        assert_eq!(p(&["configtest"]), None);
        assert_eq!(p(&["convert", "x.cf"]), None);
        assert_eq!(p(&["a", "b", "start"]), None);
        assert_eq!(p(&[]), None);
        assert_eq!(p(&["-h"]), None);
        assert_eq!(p(&["-d"]), None);
        assert_eq!(p(&["--config", "x", "start"]), None);
        assert_eq!(p(&["", "start"]), None);
    }
}
