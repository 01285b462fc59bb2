//! Problems found in a config file, with their `file:line`.

use std::fmt;
use std::path::{Path, PathBuf};

/// Problems found so far: (line, message).
pub(crate) type Problems = Vec<(usize, String)>;

/// One problem in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based; 0 when the problem has no line (an unreadable file).
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
        }
    }
}

/// Every problem found in a config file (never empty).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// Problems to [`ConfigErrors`], in line order (stable for one line).
pub(crate) fn to_errors(path: &Path, mut errs: Problems) -> ConfigErrors {
    errs.sort_by_key(|(l, _)| *l);
    ConfigErrors(
        errs.into_iter()
            .map(|(line, message)| ConfigError {
                file: path.to_path_buf(),
                line,
                message,
            })
            .collect(),
    )
}
