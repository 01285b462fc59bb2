//! Build tasks for the package.
//!
//! `cargo run -p xtask -- dist [DIR]` writes, from the clap definition of
//! `ldirectord-rs` and README.md (default DIR: `target/dist`):
//!
//! - `man/ldirectord-rs.8`, `man/ldirectord-rs.cf.5`;
//! - `completions/ldirectord-rs.bash`, `completions/_ldirectord-rs` (zsh),
//!   `completions/ldirectord-rs.fish`.
//!
//! `cargo deb` takes them from there (see `[package.metadata.deb]`).

mod man;
mod markdown;

use clap::CommandFactory;
use clap_complete::Shell;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const BIN: &str = "ldirectord-rs";

/// The workspace root (this crate's parent).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn command() -> clap::Command {
    ldirectord_rs::cli::Cli::command()
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    println!("wrote {}", path.display());
    Ok(())
}

/// Every generated file: (path under the output directory, contents).
fn generate() -> Result<Vec<(String, Vec<u8>)>, String> {
    let readme_path = root().join("README.md");
    let readme = std::fs::read_to_string(&readme_path)
        .map_err(|e| format!("{}: {e}", readme_path.display()))?;
    let mut out = Vec::new();
    for (name, text) in man::pages(command(), &readme)? {
        out.push((format!("man/{name}"), text.into_bytes()));
    }
    for (shell, name) in [
        (Shell::Bash, format!("{BIN}.bash")),
        (Shell::Zsh, format!("_{BIN}")),
        (Shell::Fish, format!("{BIN}.fish")),
    ] {
        let mut buf = Vec::new();
        clap_complete::generate(shell, &mut command(), BIN, &mut buf);
        out.push((format!("completions/{name}"), buf));
    }
    Ok(out)
}

fn dist(dir: &Path) -> Result<(), String> {
    for (name, bytes) in generate()? {
        write(&dir.join(name), &bytes)?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["dist"] => dist(&root().join("target/dist")),
        ["dist", dir] => dist(Path::new(dir)),
        _ => Err("usage: cargo run -p xtask -- dist [DIR]   (default DIR: target/dist)".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ldirectord_rs::config::directives::{GLOBAL_ONLY, HTTP_OPTIONS, VIRTUAL_ONLY};

    fn readme() -> String {
        std::fs::read_to_string(root().join("README.md")).unwrap()
    }

    /// (directive names of a row, its `where`), from the README's tables.
    fn table() -> Vec<(Vec<String>, String)> {
        let r = readme();
        let body = markdown::section(&r, man::CONFIG_SECTION).expect("Configuration section");
        markdown::directive_rows(&markdown::blocks(&body))
            .into_iter()
            .map(|(names, rest)| {
                let names = names
                    .split(',')
                    .map(|n| n.trim().trim_matches('`').to_string())
                    .collect();
                let place = rest
                    .iter()
                    .find(|(h, _)| h == "where")
                    .map(|(_, w)| w.clone())
                    .unwrap_or_default();
                (names, place)
            })
            .collect()
    }

    /// Where the parser takes directive `d`: "global", "virtual" or
    /// "both", found by writing it at column 0 and inside a virtual block.
    fn accepted(d: &str) -> String {
        let errors = |text: String| {
            ldirectord_rs::config::cf::parse(Path::new("t.cf"), &text)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        let global = errors(format!(
            "{d}=1\nvirtual=127.0.0.1:80\n\treal=127.0.0.2:80 masq\n"
        ));
        let inside = errors(format!(
            "virtual=127.0.0.1:80\n\treal=127.0.0.2:80 masq\n\t{d}=1\n"
        ));
        assert!(!global.contains("unknown directive"), "{d}: {global}");
        match (
            !global.contains("outside a virtual block"),
            !inside.contains("is a global directive"),
        ) {
            (true, true) => "both",
            (true, false) => "global",
            (false, true) => "virtual",
            (false, false) => panic!("{d}: {global} / {inside}"),
        }
        .to_string()
    }

    #[test]
    fn every_directive_is_in_the_readme_tables_where_the_parser_takes_it() {
        let rows = table();
        for (names, place) in &rows {
            for n in names {
                if n == "virtual" || n == "virtual6" {
                    assert_eq!(place, "virtual");
                    continue;
                }
                assert_eq!(&accepted(n), place, "{n}");
            }
        }
        for d in GLOBAL_ONLY.iter().chain(VIRTUAL_ONLY).chain(&HTTP_OPTIONS) {
            assert!(
                rows.iter().any(|(names, _)| names.iter().any(|n| n == d)),
                "{d} is not in the README's tables"
            );
        }
    }

    #[test]
    fn pages_and_completions_are_generated() {
        let files = generate().unwrap();
        let get = |n: &str| {
            let (_, b) = files.iter().find(|(name, _)| name == n).unwrap();
            String::from_utf8(b.clone()).unwrap()
        };
        let p8 = get("man/ldirectord-rs.8");
        assert!(p8.contains("\n.TH LDIRECTORD-RS 8 "), "{p8}");
        assert_eq!(p8.matches(".ds Aq").count(), 2, "one preamble");
        for s in [
            ".SH NAME",
            ".SH SYNOPSIS",
            ".SH OPTIONS",
            ".SH COMMANDS",
            ".SH FILES",
        ] {
            assert!(p8.contains(s), "{s}");
        }
        for (_, name) in man::SECTIONS_8 {
            assert!(p8.contains(&format!(".SH {name}\n")), "{name}");
        }
        // Every subcommand, from clap.
        for sub in command().get_subcommands() {
            assert!(
                p8.contains(&format!("\\fBldirectord\\-rs {}", sub.get_name()))
                    || p8.contains(&format!(" {} ", sub.get_name())),
                "{}",
                sub.get_name()
            );
        }
        let p5 = get("man/ldirectord-rs.cf.5");
        assert!(p5.starts_with(".TH \"LDIRECTORD-RS.CF\" \"5\""), "{p5}");
        assert!(p5.contains(".SH DIRECTIVES\n"), "{p5}");
        assert!(p5.contains(".TP\n\\fBcheckinterval\\fR\n"), "{p5}");
        assert!(p5.contains(".SH EMAIL ALERTS\n"), "{p5}");
        assert!(get("completions/ldirectord-rs.bash").contains("complete -F"));
        assert!(get("completions/_ldirectord-rs").starts_with("#compdef ldirectord-rs"));
        assert!(get("completions/ldirectord-rs.fish").contains("complete -c ldirectord-rs"));
    }

    #[test]
    fn man_pages_render_without_warnings() {
        // groff or mandoc, when installed, must not complain.
        let Ok(out) = std::process::Command::new("groff")
            .arg("--version")
            .output()
        else {
            eprintln!("groff not installed: skipped");
            return;
        };
        if !out.status.success() {
            return;
        }
        for (name, bytes) in generate().unwrap() {
            if !name.starts_with("man/") {
                continue;
            }
            let mut child = std::process::Command::new("groff")
                .args(["-man", "-Tutf8", "-ww", "-z"])
                .stdin(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            use std::io::Write;
            child.stdin.take().unwrap().write_all(&bytes).unwrap();
            let out = child.wait_with_output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success() && err.trim().is_empty(),
                "{name}: {err}"
            );
        }
    }

    #[test]
    fn debian_changelog_is_for_this_version() {
        let text = std::fs::read_to_string(root().join("contrib/debian/changelog")).unwrap();
        let first = text.lines().next().unwrap();
        let version = command().get_version().unwrap().to_string();
        assert!(
            first.starts_with(&format!("ldirectord-rs ({version}-1) ")),
            "{first}: add an entry for {version} to contrib/debian/changelog"
        );
    }

    #[test]
    fn example_configs_load() {
        for f in ["contrib/ldirectord.cf", "ldirectord.example.yaml"] {
            let p = root().join(f);
            if let Err(e) = ldirectord_rs::config::load(&p) {
                panic!("{f}: {e}");
            }
        }
    }
}
