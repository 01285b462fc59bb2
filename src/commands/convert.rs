//! `ldirectord-rs convert FILE`: print the YAML equivalent of a config file
//! (typically an `ldirectord.cf`).

use crate::output::console::out;
use std::path::Path;

pub fn run(file: &Path) -> i32 {
    match super::load_config(file) {
        Ok(c) => {
            out!("{}", crate::config::yaml::to_yaml(&c));
            0
        }
        Err(code) => code,
    }
}
