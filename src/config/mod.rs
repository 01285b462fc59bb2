//! Configuration: the legacy `ldirectord.cf` and YAML, read into one typed
//! model ([`Config`]). Every value here is already resolved: a virtual's
//! `checktimeout` is the per-virtual one if given, else the global one, else
//! the default, so the rest of the director never looks at defaults.
//!
//! A file goes through these, in order (every problem is collected with its
//! line, none stops the parse):
//!
//! - [`load`] / [`parse`] (here): recognise the format, read the file.
//! - [`cf`] / [`yaml`]: the two readers, lines or a YAML document to
//!   directives (`key`, `value` as written); [`yaml`] also writes a model
//!   back (`convert`).
//! - `value`: the value grammar both share (durations, addresses, `real=`,
//!   services, mailboxes, ...).
//! - `directives`: which directive is allowed where and what it sets, in a
//!   raw model where every setting is optional.
//! - `resolve`: raw model to [`Config`]: defaults, inheritance, the checks
//!   that need a whole block, duplicates.
//! - `hosts`: host names, resolved at load (every reload too); `bytes`: a
//!   `.cf` file is bytes, as ldirectord reads it.
//! - `types`: the typed model itself; `error`: [`ConfigErrors`].
//!
//! The grammar is ldirectord's (see the ldirectord(8) manual page); each
//! difference, on purpose, is listed where it is made (`cf`, `value`,
//! `directives`).

mod bytes;
pub mod cf;
pub mod directives;
mod error;
pub mod hosts;
mod resolve;
mod types;
mod value;
pub mod yaml;

pub(crate) use error::{to_errors, Problems};
pub use error::{ConfigError, ConfigErrors};
pub use hosts::{Host, Resolver, StaticResolver, SystemResolver};
pub use types::*;
pub use value::{parse_smtp, MAX_INTERVAL};

use std::path::Path;

/// Default config path when `-f` is not given.
pub const DEFAULT_PATH: &str = "/etc/ldirectord-rs/ldirectord.yaml";

/// The two formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Cf,
    Yaml,
}

/// Recognise the format: by extension (`.cf` / `.yaml` / `.yml`), else by
/// content (a `virtual=` or `key=value` line means cf).
pub fn detect_format(path: &Path, text: &str) -> Format {
    match path.extension().and_then(|e| e.to_str()) {
        Some("cf" | "conf") => return Format::Cf,
        Some("yaml" | "yml") => return Format::Yaml,
        _ => {}
    }
    for line in text.lines() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') || t == "---" {
            continue;
        }
        let eq = t.find('=');
        let colon = t.find(':');
        return match (eq, colon) {
            (Some(e), Some(c)) if e < c => Format::Cf,
            (Some(_), None) => Format::Cf,
            _ => Format::Yaml,
        };
    }
    Format::Yaml
}

/// Parse `text` read from `path` (names resolved by the system).
pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigErrors> {
    parse_bytes(path, text.as_bytes(), &SystemResolver)
}

/// Parse a file's bytes, names looked up through `resolver`. A `.cf` file
/// may hold bytes that are not UTF-8 (see [`cf`]); YAML must be UTF-8.
pub fn parse_bytes(
    path: &Path,
    bytes: &[u8],
    resolver: &dyn Resolver,
) -> Result<Config, ConfigErrors> {
    let text = String::from_utf8_lossy(bytes);
    match detect_format(path, &text) {
        Format::Cf => cf::parse_bytes(path, bytes, resolver),
        Format::Yaml => match bytes::first_invalid(bytes) {
            Some((line, col)) => Err(ConfigErrors(vec![ConfigError {
                file: path.to_path_buf(),
                line,
                message: format!(
                    "byte {col} of this line is not UTF-8 (a YAML config must be UTF-8; an ldirectord.cf may be Latin-1)"
                ),
            }])),
            None => yaml::parse_with(path, &text, resolver),
        },
    }
}

/// Read and parse a config file (names resolved by the system).
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    load_with(path, &SystemResolver)
}

/// Read and parse a config file, names looked up through `resolver`.
pub fn load_with(path: &Path, resolver: &dyn Resolver) -> Result<Config, ConfigErrors> {
    let bytes = std::fs::read(path).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            file: path.to_path_buf(),
            line: 0,
            message: format!("cannot read: {e}"),
        }])
    })?;
    parse_bytes(path, &bytes, resolver)
}
