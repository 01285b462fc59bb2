//! The man pages: ldirectord-rs(8) from the clap definition plus the
//! README's sections on running it, ldirectord-rs.cf(5) from the README's
//! Configuration section (its directive tables included).

use crate::markdown::{blocks, escape_text, inline, line, section, to_roff};
use clap::{Arg, Command};

/// README sections in ldirectord-rs(8): (title prefix, man section name).
pub const SECTIONS_8: &[(&str, &str)] = &[
    ("Command line", "USAGE"),
    ("The event log", "EVENT LOG"),
    ("Status and metrics", "STATUS AND METRICS"),
    ("How it behaves", "BEHAVIOUR"),
];

/// The README section of ldirectord-rs.cf(5).
pub const CONFIG_SECTION: &str = "Configuration";

/// What the package installs besides the binary (FILES in both pages).
const PACKAGED_FILES: &[(&str, &str)] = &[
    (
        "/etc/default/ldirectord-rs",
        "CONFIG, OPTIONS and LDIRECTORD_RS_SMTP for the systemd unit",
    ),
    (
        "/usr/lib/systemd/system/ldirectord-rs.service",
        "the systemd unit (Type=notify, watchdog, sandboxed)",
    ),
    (
        "/etc/logrotate.d/ldirectord-rs",
        "rotation of /var/log/ldirectord-rs/*.log (no signal needed)",
    ),
    (
        "/usr/lib/modules-load.d/ldirectord-rs.conf",
        "loads ip_vs at boot",
    ),
    (
        "/usr/share/doc/ldirectord-rs/examples/",
        "example configurations, ldirectord.cf and YAML",
    ),
];

fn missing(title: &str) -> String {
    format!("README.md has no \"## {title}\" section")
}

fn th(name: &str, section: &str, version: &str, manual: &str) -> String {
    format!(".TH \"{name}\" \"{section}\" \"\" \"ldirectord-rs {version}\" \"{manual}\"\n")
}

fn files(default_config: Option<&str>) -> String {
    let mut out = String::from(".SH FILES\n");
    if let Some(c) = default_config {
        out.push_str(&format!(
            ".TP\n\\fB{}\\fR\nthe configuration read when \\fB\\-f\\fR does not name one\n",
            escape_text(c, true)
        ));
    }
    for (path, what) in PACKAGED_FILES {
        out.push_str(&format!(
            ".TP\n\\fB{}\\fR\n{}\n",
            escape_text(path, true),
            escape_text(what, false)
        ));
    }
    out
}

/// The default value of the `--config` option, if the command has one.
fn default_config(cmd: &Command) -> Option<String> {
    cmd.get_arguments()
        .find(|a| a.get_long() == Some("config"))
        .and_then(|a| a.get_default_values().first())
        .map(|v| v.to_string_lossy().into_owned())
}

/// One option of a subcommand: `.TP`, its flags and value, its help.
fn option(a: &Arg) -> String {
    let mut head = Vec::new();
    if let Some(s) = a.get_short() {
        head.push(format!("\\fB\\-{s}\\fR"));
    }
    if let Some(l) = a.get_long() {
        head.push(format!("\\fB\\-\\-{}\\fR", escape_text(l, true)));
    }
    let mut head = head.join(", ");
    let takes = a.get_num_args().is_some_and(|n| n.takes_values()) && a.get_action().takes_values();
    if takes || a.is_positional() {
        let names = a.get_value_names().map_or_else(
            || vec![a.get_id().to_string().to_uppercase()],
            |v| {
                v.iter()
                    .map(std::string::ToString::to_string)
                    .collect::<Vec<_>>()
            },
        );
        let values = names
            .iter()
            .map(|n| format!("\\fI{}\\fR", escape_text(n, false)))
            .collect::<Vec<_>>()
            .join(" ");
        head = if head.is_empty() {
            values
        } else {
            format!("{head} {values}")
        };
    }
    let mut body = a
        .get_long_help()
        .or_else(|| a.get_help())
        .map(|h| inline(&h.to_string()))
        .unwrap_or_default();
    let possible: Vec<String> = a
        .get_possible_values()
        .iter()
        .filter(|p| !p.is_hide_set())
        .map(|p| match p.get_help() {
            Some(h) => format!(
                "\\fB{}\\fR: {}",
                escape_text(p.get_name(), true),
                inline(&h.to_string())
            ),
            None => format!("\\fB{}\\fR", escape_text(p.get_name(), true)),
        })
        .collect();
    if !possible.is_empty() && takes {
        body.push_str(&format!("\n.br\nValues: {}.", possible.join("; ")));
    }
    let defaults: Vec<String> = a
        .get_default_values()
        .iter()
        .map(|v| escape_text(&v.to_string_lossy(), true))
        .collect();
    if !defaults.is_empty() && takes {
        body.push_str(&format!("\n.br\nDefault: \\fB{}\\fR.", defaults.join(" ")));
    }
    format!(".TP\n{head}\n{body}\n")
}

/// The COMMANDS section: each subcommand's usage, about and own options.
fn commands(cmd: &mut Command) -> String {
    cmd.build();
    let mut out = String::from(".SH COMMANDS\n");
    let names: Vec<String> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
        .map(|s| s.get_name().to_string())
        .collect();
    for name in names {
        let Some(sub) = cmd.find_subcommand_mut(&name) else {
            continue;
        };
        let usage = sub.render_usage().to_string();
        let usage = usage.trim().trim_start_matches("Usage:").trim();
        out.push_str(&format!(".TP\n\\fB{}\\fR\n", escape_text(usage, true)));
        let about = sub
            .get_long_about()
            .or_else(|| sub.get_about())
            .map(std::string::ToString::to_string)
            .unwrap_or_default();
        for l in about.lines().filter(|l| !l.trim().is_empty()) {
            out.push_str(&line(&inline(l)));
            out.push('\n');
        }
        let own: Vec<&Arg> = sub
            .get_arguments()
            .filter(|a| !a.is_hide_set() && !a.is_global_set())
            .filter(|a| !matches!(a.get_id().as_str(), "help" | "version"))
            .collect();
        if !own.is_empty() {
            out.push_str(".RS\n");
            for a in own {
                out.push_str(&option(a));
            }
            out.push_str(".RE\n");
        }
    }
    out
}

/// ldirectord-rs(8).
pub fn page_8(cmd: Command, readme: &str) -> Result<String, String> {
    let version = cmd.get_version().unwrap_or_default().to_string();
    let mut cmd = cmd;
    cmd.build();
    let man = clap_mangen::Man::new(cmd.clone())
        .title("LDIRECTORD-RS")
        .section("8")
        .source(format!("ldirectord-rs {version}"))
        .manual("System Administration");
    let mut buf = Vec::new();
    let io = |e: std::io::Error| e.to_string();
    man.render_title(&mut buf).map_err(io)?;
    man.render_name_section(&mut buf).map_err(io)?;
    man.render_synopsis_section(&mut buf).map_err(io)?;
    man.render_description_section(&mut buf).map_err(io)?;
    man.render_options_section(&mut buf).map_err(io)?;
    // Each render starts with the same preamble: keep the first.
    let text = String::from_utf8(buf).map_err(|e| e.to_string())?;
    let mut seen = std::collections::HashSet::new();
    let mut out = String::new();
    for l in text.lines() {
        if !l.starts_with(".ie ") && !l.starts_with(".el ") || seen.insert(l) {
            out.push_str(l);
            out.push('\n');
        }
    }
    out.push_str(&commands(&mut cmd));
    for (title, name) in SECTIONS_8 {
        let body = section(readme, title).ok_or_else(|| missing(title))?;
        out.push_str(&format!(".SH {name}\n"));
        out.push_str(&to_roff(&blocks(&body), false));
    }
    out.push_str(&files(default_config(&cmd).as_deref()));
    out.push_str(
        ".SH SEE ALSO\n\\fBldirectord-rs.cf\\fR(5), \\fBipvsadm\\fR(8), \\fBldirectord\\fR(8), \\fBsystemd.service\\fR(5)\n",
    );
    Ok(out)
}

/// ldirectord-rs.cf(5).
pub fn page_5(readme: &str, version: &str, default_config: Option<&str>) -> Result<String, String> {
    let body = section(readme, CONFIG_SECTION).ok_or_else(|| missing(CONFIG_SECTION))?;
    let mut out = th("LDIRECTORD-RS.CF", "5", version, "File Formats");
    out.push_str(".SH NAME\nldirectord-rs.cf \\- configuration of ldirectord-rs\n");
    out.push_str(".SH SYNOPSIS\n");
    out.push_str(&format!(
        "\\fB{}\\fR\n",
        escape_text(default_config.unwrap_or("/etc/ha.d/ldirectord.cf"), true)
    ));
    out.push_str(".SH DESCRIPTION\n");
    out.push_str(&to_roff(&blocks(&body), true));
    out.push_str(&files(default_config));
    out.push_str(
        ".SH SEE ALSO\n\\fBldirectord-rs\\fR(8), \\fBldirectord\\fR(8), \\fBipvsadm\\fR(8)\n",
    );
    Ok(out)
}

/// Both pages: (file name, text).
pub fn pages(cmd: Command, readme: &str) -> Result<Vec<(String, String)>, String> {
    let version = cmd.get_version().unwrap_or_default().to_string();
    let config = default_config(&cmd);
    Ok(vec![
        ("ldirectord-rs.8".into(), page_8(cmd, readme)?),
        (
            "ldirectord-rs.cf.5".into(),
            page_5(readme, &version, config.as_deref())?,
        ),
    ])
}
