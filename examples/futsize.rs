//! Prints the size of a check task's future (what each real costs in memory
//! while it waits for its next check).
fn main() {
    let p = ldirectord_checks::Probe::Connect;
    let f = ldirectord_checks::run(
        &p,
        "127.0.0.1:1".parse().unwrap(),
        std::time::Duration::from_secs(1),
    );
    println!("checks::run future: {} bytes", std::mem::size_of_val(&f));
    println!(
        "director check task: {} bytes",
        ldirectord_rs::director::check_task_size()
    );
}
