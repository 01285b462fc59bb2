//! `ldirectord-rs configtest`: parse and validate the config; print a summary,
//! or `FILE:LINE: message` for every problem.

use crate::output::console::{errln, outln};
use std::path::Path;

pub fn run(path: &Path) -> i32 {
    let config = match super::load_config(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    for w in &config.warnings.0 {
        errln!("{}:{}: warning: {}", w.file.display(), w.line, w.message);
    }
    outln!(
        "{}: OK ({} virtual services, {} real servers)",
        path.display(),
        config.virtuals.len(),
        super::real_count(&config)
    );
    0
}
