//! The `ldirectord-rs` binary: everything is in the library; see `cli`.

fn main() -> std::process::ExitCode {
    ldirectord_rs::cli::main()
}
