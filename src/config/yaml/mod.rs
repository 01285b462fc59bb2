//! The YAML format (see `ldirectord.example.yaml`) and `convert`.
//!
//! Keys are the ldirectord directive names. Values go through exactly the
//! same value grammar and directive handling as `.cf` ([`super::cf`]); only
//! the shape differs:
//!
//! ```yaml
//! checkinterval: 5s            # durations: 5s, 500ms, or a number of seconds
//! checktimeout: 3s
//! quiescent: false             # booleans: true/false (yes/no also read)
//! fallback: 127.0.0.1:80 gate  # or {address: 127.0.0.1:80, forward: gate}
//! virtuals:
//!   - virtual: 10.0.0.100:80   # or virtual6: "[2001:db8::1]:80", fwmark: 10, fwmark6: 10
//!     scheduler: rr
//!     service: http
//!     request: /index.html
//!     reals:
//!       - 10.0.0.2:80 gate 2   # the .cf real= syntax
//!       - {address: 10.0.0.3:80, forward: gate, weight: 1, lower: 0, upper: 0,
//!          request: /health, receive: ok}
//! ```
//!
//! Structure errors (unknown keys, a list where a value belongs, bad YAML)
//! stop the parse with yaml_serde's line. Value errors are all collected;
//! their line is found by walking the text along the value's path
//! (`virtuals[2].reals[1]`), see [`LineIndex`].
//!
//! - `schema`: the document's shape (serde types; every value a scalar
//!   kept as written);
//! - `lines`: the line of a value, found by its path;
//! - `limits`: what keeps reading linear (aliases, nesting);
//! - `read`: document to the directive model, then resolved;
//! - `write`: a model back to YAML (`convert`).

mod limits;
mod lines;
mod read;
mod schema;
mod write;

pub use lines::{LineIndex, Seg};
pub use read::{parse, parse_with};
pub use schema::{Scalar, StrOrMap, YamlConfig, YamlFallback, YamlReal, YamlVirtual};
pub use write::to_yaml;
