//! The director end to end on the in-memory table, against real HTTP servers
//! on loopback: failover to the fallback and back, quiescent, failurecount,
//! risecount, reload, bad reload, maintenance, adoption, drift, cleanstop.

mod common;
use common::*;
use std::time::Duration;

/// A .cf config with one virtual on 127.<net>.0.100:80 and the given reals.
fn cf(
    extra_global: &str,
    extra_virtual: &str,
    reals: &[(&TestServer, u32)],
    fallback: Option<&TestServer>,
    net: u8,
) -> String {
    let mut s = format!("checkinterval=1\nchecktimeout=1\nnegotiatetimeout=1\nresyncinterval=60\n{extra_global}\nvirtual=127.{net}.0.100:80\n");
    for (srv, w) in reals {
        s.push_str(&format!("\treal={} masq {w}\n", srv.addr()));
    }
    if let Some(f) = fallback {
        s.push_str(&format!("\tfallback={} masq\n", f.addr()));
    }
    s.push_str("\tservice=http\n\tchecktype=negotiate\n\trequest=\"/\"\n\treceive=\"^rs\"\n\tscheduler=wrr\n");
    s.push_str(extra_virtual);
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_to_fallback_and_back() {
    let dir = tempfile::tempdir().unwrap();
    let rs = servers(21, 2).await;
    let sorry = TestServer::start("127.21.0.9:0".parse().unwrap(), "sorry\n")
        .await
        .unwrap();
    let path = write(
        dir.path(),
        "l.cf",
        &cf(
            "quiescent=no",
            "",
            &[(&rs[0], 1), (&rs[1], 2)],
            Some(&sorry),
            21,
        ),
    );
    let d = start(&path);
    let (a, b, f) = (rs[0].addr(), rs[1].addr(), sorry.addr());
    d.wait("both reals up", LONG, |t| {
        has(t, a) && has(t, b) && !has(t, f)
    })
    .await;
    assert_eq!(weight(&d.table.snapshot(), b), Some(2));

    rs[0].set(Mode::Fail);
    d.wait("rs1 removed", LONG, |t| !has(t, a) && has(t, b))
        .await;
    d.wait_log(
        &format!("Deleted real server: {a} (127.21.0.100:80) reason: HTTP 503"),
        LONG,
    )
    .await;
    assert!(
        !has(&d.table.snapshot(), f),
        "no fallback while a real is up"
    );

    rs[1].set(Mode::Down);
    d.wait("fallback in", LONG, |t| {
        has(t, f) && !has(t, a) && !has(t, b)
    })
    .await;
    d.wait_log(
        &format!("Added fallback server: {f} (127.21.0.100:80)"),
        LONG,
    )
    .await;
    d.wait_log("reason: connection refused", LONG).await;

    rs[1].set(Mode::Ok);
    d.wait("fallback out", LONG, |t| has(t, b) && !has(t, f))
        .await;
    d.wait_log(
        &format!("Deleted fallback server: {f} (127.21.0.100:80)"),
        LONG,
    )
    .await;
    rs[0].set(Mode::Ok);
    d.wait("all back", LONG, |t| has(t, a) && has(t, b)).await;
    let (_, table, lines) = d.stop().await;
    assert!(
        table.snapshot().is_empty(),
        "cleanstop (default yes) removes the virtual"
    );
    assert!(lines.iter().any(|l| l.contains(&format!(
        "Added real server: {a} (127.21.0.100:80) (Weight set to 1)"
    ))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_real_is_down_after_the_timeout_without_delaying_others() {
    let dir = tempfile::tempdir().unwrap();
    let rs = servers(22, 3).await;
    let path = write(
        dir.path(),
        "l.cf",
        &cf("", "", &[(&rs[0], 1), (&rs[1], 1), (&rs[2], 1)], None, 22),
    );
    let d = start(&path);
    d.wait("all up", LONG, |t| dests(t).len() == 3).await;
    rs[0].set(Mode::Hang);
    rs[1].set(Mode::Fail);
    let t0 = std::time::Instant::now();
    d.wait("503 real removed", LONG, |t| !has(t, rs[1].addr()))
        .await;
    let fail_detect = t0.elapsed();
    d.wait("hung real removed", LONG, |t| !has(t, rs[0].addr()))
        .await;
    d.wait_log("reason: timed out after 1s", LONG).await;
    // Generous bound: the 503 is seen within one interval plus slack, not
    // after the hung check's timeout has been waited out in series.
    assert!(
        fail_detect < Duration::from_secs(5),
        "503 detected after {fail_detect:?}"
    );
    assert!(has(&d.table.snapshot(), rs[2].addr()));
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiescent_sets_weight_zero_and_restores() {
    let dir = tempfile::tempdir().unwrap();
    let rs = servers(23, 2).await;
    let path = write(
        dir.path(),
        "l.cf",
        &cf("quiescent=yes", "", &[(&rs[0], 3), (&rs[1], 1)], None, 23),
    );
    let d = start(&path);
    let a = rs[0].addr();
    d.wait("up", LONG, |t| weight(t, a) == Some(3)).await;
    rs[0].set(Mode::Fail);
    d.wait("quiesced", LONG, |t| weight(t, a) == Some(0)).await;
    d.wait_log(
        &format!("Quiescent real server: {a} (127.23.0.100:80) (Weight set to 0) reason: HTTP 503"),
        LONG,
    )
    .await;
    rs[0].set(Mode::Ok);
    d.wait("restored", LONG, |t| weight(t, a) == Some(3)).await;
    d.wait_log(
        &format!("Restored real server: {a} (127.23.0.100:80) (Weight set to 3)"),
        LONG,
    )
    .await;
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failurecount_gives_soft_failures_first() {
    let dir = tempfile::tempdir().unwrap();
    let rs = servers(24, 2).await;
    let path = write(
        dir.path(),
        "l.cf",
        &cf("failurecount=3", "", &[(&rs[0], 1), (&rs[1], 1)], None, 24),
    );
    let d = start(&path);
    let a = rs[0].addr();
    d.wait("up", LONG, |t| dests(t).len() == 2).await;
    rs[0].set(Mode::Fail);
    d.wait("removed", LONG, |t| !has(t, a)).await;
    let lines = d.lines();
    let soft1 = lines.iter().position(|l| {
        l.contains(&format!(
            "Soft failure real server: {a} (127.24.0.100:80) failure 1/3"
        ))
    });
    let soft2 = lines.iter().position(|l| {
        l.contains(&format!(
            "Soft failure real server: {a} (127.24.0.100:80) failure 2/3"
        ))
    });
    let del = lines
        .iter()
        .position(|l| l.contains(&format!("Deleted real server: {a}")));
    assert!(
        soft1.is_some() && soft2.is_some() && del.is_some(),
        "{lines:#?}"
    );
    assert!(soft1 < soft2 && soft2 < del);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn risecount_needs_consecutive_successes() {
    let dir = tempfile::tempdir().unwrap();
    let rs = servers(25, 2).await;
    let path = write(
        dir.path(),
        "l.cf",
        &cf("risecount=3", "", &[(&rs[0], 1), (&rs[1], 1)], None, 25),
    );
    let d = start(&path);
    let a = rs[0].addr();
    d.wait("up", LONG, |t| dests(t).len() == 2).await;
    rs[0].set(Mode::Fail);
    d.wait("removed", LONG, |t| !has(t, a)).await;
    let hits_at_restore = rs[0].hits();
    rs[0].set(Mode::Ok);
    d.wait("back", Duration::from_secs(15), |t| has(t, a)).await;
    // It came back only after three good checks.
    assert!(
        rs[0].hits() - hits_at_restore >= 3,
        "back after {} checks",
        rs[0].hits() - hits_at_restore
    );
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_that_changes_one_real_touches_only_that_entry() {
    let dir = tempfile::tempdir().unwrap();
    let rs = servers(26, 3).await;
    let reals = |w2| [(&rs[0], 1), (&rs[1], w2), (&rs[2], 1)];
    let path = write(dir.path(), "l.cf", &cf("", "", &reals(1), None, 26));
    let d = start(&path);
    d.wait("up", LONG, |t| dests(t).len() == 3).await;
    let ops_before = d.table.op_count();
    write(dir.path(), "l.cf", &cf("", "", &reals(7), None, 26));
    d.control
        .send(ldirectord_rs::director::Control::Reload)
        .await
        .unwrap();
    d.wait_log("Reloaded configuration from", LONG).await;
    assert_eq!(
        d.table.op_count() - ops_before,
        1,
        "exactly one table operation\n{:#?}",
        d.lines()
    );
    assert_eq!(weight(&d.table.snapshot(), rs[1].addr()), Some(7));
    assert_eq!(d.count("Reloaded configuration from"), 1);
    assert!(d
        .lines()
        .iter()
        .any(|l| l.contains(": 1 table operations in")));
    // Health was kept: nobody was re-added.
    assert_eq!(d.count("Added real server"), 3);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_reload_keeps_the_old_config_serving() {
    let dir = tempfile::tempdir().unwrap();
    let rs = servers(27, 2).await;
    let good = cf("", "", &[(&rs[0], 1), (&rs[1], 1)], None, 27);
    let path = write(dir.path(), "l.cf", &good);
    let d = start(&path);
    d.wait("up", LONG, |t| dests(t).len() == 2).await;
    let ops_before = d.table.op_count();
    write(
        dir.path(),
        "l.cf",
        &format!("{good}\tbogus_directive=1\n\treal=127.27.0.50:80\n"),
    );
    d.control
        .send(ldirectord_rs::director::Control::Reload)
        .await
        .unwrap();
    d.wait_log("Reload failed, keeping the running configuration", LONG)
        .await;
    let lines = d.lines();
    let file_line = format!("{}:", path.display());
    assert!(
        lines
            .iter()
            .any(|l| l.contains("Reload failed: ") && l.contains(&file_line)),
        "{lines:#?}"
    );
    assert_eq!(d.table.op_count(), ops_before);
    // Checks still run on the old config.
    rs[0].set(Mode::Fail);
    d.wait("old config still serving", LONG, |t| {
        !has(t, rs[0].addr()) && has(t, rs[1].addr())
    })
    .await;
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintenancedir_forces_a_real_down() {
    let dir = tempfile::tempdir().unwrap();
    let maint = dir.path().join("maint");
    std::fs::create_dir(&maint).unwrap();
    let rs = servers(28, 2).await;
    let g = format!("maintenancedir={}", maint.display());
    let path = write(
        dir.path(),
        "l.cf",
        &cf(&g, "", &[(&rs[0], 1), (&rs[1], 1)], None, 28),
    );
    let d = start(&path);
    let a = rs[0].addr();
    d.wait("up", LONG, |t| dests(t).len() == 2).await;
    std::fs::write(maint.join(a.to_string()), "").unwrap();
    d.wait("in maintenance", LONG, |t| !has(t, a)).await;
    d.wait_log("reason: in maintenance", LONG).await;
    std::fs::remove_file(maint.join(a.to_string())).unwrap();
    d.wait("out of maintenance", LONG, |t| has(t, a)).await;
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adoption_leaves_a_healthy_entry_alone_and_drift_is_repaired() {
    use ldirectord_rs::ipvs::{Ipvs, Protocol, ServiceKey};
    let dir = tempfile::tempdir().unwrap();
    let rs = servers(29, 2).await;
    let text = cf("cleanstop=no", "", &[(&rs[0], 1), (&rs[1], 1)], None, 29)
        .replace("resyncinterval=60", "resyncinterval=1");
    let path = write(dir.path(), "l.cf", &text);
    // The table as a previous run left it: the service and both reals.
    let config = ldirectord_rs::config::load(&path).unwrap();
    let v = &config.virtuals[0];
    let mut table = ldirectord_rs::ipvs::memory::MemoryIpvs::new();
    table
        .add_service(&ldirectord_rs::core::table::desired_service(v))
        .unwrap();
    for r in &v.reals {
        table
            .add_dest(&v.key, &ldirectord_rs::core::table::desired_dest(r))
            .unwrap();
    }
    let ops_before = table.op_count();
    let d = start_with(&path, table);
    // Wait until both were checked at least once and a bit more.
    let deadline = tokio::time::Instant::now() + LONG;
    while rs.iter().any(|s| s.hits() < 2) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        d.table.op_count(),
        ops_before,
        "adopted healthy entries were not touched\n{:#?}",
        d.lines()
    );
    // An operator flushes the table (ipvsadm -C): it is whole again within a resync.
    d.table.clear();
    d.wait("repaired", LONG, |t| dests(t).len() == 2).await;
    let key = ServiceKey::Inet {
        proto: Protocol::Tcp,
        addr: "127.29.0.100:80".parse().unwrap(),
    };
    let (_, table, _) = d.stop().await;
    // cleanstop=no: the table stays.
    assert!(table
        .snapshot()
        .iter()
        .any(|s| s.service.key == key && s.dests.len() == 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autoreload_picks_up_a_changed_file_and_removes_a_dropped_virtual() {
    let dir = tempfile::tempdir().unwrap();
    let rs = servers(30, 3).await;
    let one = cf("autoreload=yes", "", &[(&rs[0], 1), (&rs[1], 1)], None, 30);
    let path = write(dir.path(), "l.cf", &one);
    let d = start(&path);
    d.wait("up", LONG, |t| dests(t).len() == 2).await;
    // A second virtual appears, then the first goes away.
    let two = format!(
        "{one}virtual=127.30.1.100:80\n\treal={} masq\n\tservice=http\n",
        rs[2].addr()
    );
    // Make sure the modification time moves even on coarse clocks.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    write(dir.path(), "l.cf", &two);
    d.wait("second virtual", LONG, |t| {
        t.len() == 2 && has(t, rs[2].addr())
    })
    .await;
    d.wait_log("changed, reloading", LONG).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let only_second = format!("checkinterval=1\nchecktimeout=1\nautoreload=yes\nvirtual=127.30.1.100:80\n\treal={} masq\n\tservice=http\n", rs[2].addr());
    write(dir.path(), "l.cf", &only_second);
    d.wait("first virtual removed", LONG, |t| {
        t.len() == 1 && has(t, rs[2].addr())
    })
    .await;
    d.wait_log("Deleted virtual server: 127.30.0.100:80", LONG)
        .await;
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_sync_daemons_are_started_and_stopped_with_cleanstop() {
    use ldirectord_rs::ipvs::{Ipvs, SyncState};
    let dir = tempfile::tempdir().unwrap();
    let rs = servers(34, 1).await;
    let text = cf(
        "syncdaemon=master eth0 7, backup eth1 7",
        "",
        &[(&rs[0], 1)],
        None,
        34,
    );
    let path = write(dir.path(), "l.cf", &text);
    let d = start(&path);
    let mut table = d.table.clone();
    let running = table.sync_daemons().unwrap();
    assert_eq!(running.len(), 2);
    assert!(running
        .iter()
        .any(|x| x.state == SyncState::Backup && x.ifname == "eth1" && x.syncid == 7));
    assert_eq!(
        d.count("Started connection sync daemon: master eth0 syncid 7"),
        1
    );
    let (_, mut table, lines) = d.stop().await;
    assert!(table.sync_daemons().unwrap().is_empty(), "{lines:#?}");
}

/// A shell script that appends its arguments to `out`.
fn recorder(dir: &std::path::Path, name: &str, out: &std::path::Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\necho \"$@\" >> {}\n", out.display())).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

async fn wait_file(p: &std::path::Path, needle: &str) -> String {
    let deadline = tokio::time::Instant::now() + LONG;
    loop {
        let s = std::fs::read_to_string(p).unwrap_or_default();
        if s.contains(needle) {
            return s;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} never had {needle:?}:\n{s}",
            p.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fallbackcommand_runs_on_all_down_and_first_up_and_monitorfile_logs_every_check() {
    let dir = tempfile::tempdir().unwrap();
    let rs = servers(35, 2).await;
    let out = dir.path().join("fb.out");
    let script = recorder(dir.path(), "fb.sh", &out);
    let monitor = dir.path().join("monitor.log");
    let extra = format!(
        "\tfallbackcommand=\"{}\"\n\tmonitorfile={}\n",
        script.display(),
        monitor.display()
    );
    let path = write(
        dir.path(),
        "l.cf",
        &cf("", &extra, &[(&rs[0], 1), (&rs[1], 1)], None, 35),
    );
    let d = start(&path);
    d.wait("up", LONG, |t| dests(t).len() == 2).await;
    rs[0].set(Mode::Down);
    rs[1].set(Mode::Fail);
    wait_file(&out, "start 127.35.0.100:80 tcp").await;
    rs[1].set(Mode::Ok);
    let s = wait_file(&out, "stop 127.35.0.100:80 tcp").await;
    assert_eq!(
        s.lines().collect::<Vec<_>>(),
        vec!["start 127.35.0.100:80 tcp", "stop 127.35.0.100:80 tcp"]
    );
    let m = wait_file(&monitor, "HTTP 503").await;
    assert!(
        m.contains(&format!("{} (127.35.0.100:80) down", rs[0].addr())),
        "{m}"
    );
    assert!(
        m.contains(&format!("{} (127.35.0.100:80) up", rs[1].addr())),
        "{m}"
    );
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checktype_n_does_n_connects_between_negotiates() {
    let dir = tempfile::tempdir().unwrap();
    let rs = servers(36, 1).await;
    let text = cf("", "\tchecktype=2\n", &[(&rs[0], 1)], None, 36)
        .replace("checkinterval=1", "checkinterval=0.1");
    let path = write(dir.path(), "l.cf", &text);
    let d = start(&path);
    d.wait("up", LONG, |t| dests(t).len() == 1).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (dir_, _, _) = d.stop().await;
    let st = dir_.status();
    let checks = st.virtuals[0].reals[0].checks;
    let http = rs[0].hits();
    // One in three checks is an HTTP request; the others are bare connects.
    assert!(checks >= 9, "{checks} checks");
    assert!(
        http * 3 <= checks + 3 && http * 3 + 3 >= checks,
        "{http} HTTP requests for {checks} checks"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callback_runs_with_the_config_path_when_the_file_changes() {
    let dir = tempfile::tempdir().unwrap();
    let rs = servers(37, 1).await;
    let out = dir.path().join("cb.out");
    let script = recorder(dir.path(), "cb.sh", &out);
    let g = format!("autoreload=yes\ncallback=\"{}\"", script.display());
    let text = cf(&g, "", &[(&rs[0], 1)], None, 37);
    let path = write(dir.path(), "l.cf", &text);
    let d = start(&path);
    d.wait("up", LONG, |t| dests(t).len() == 1).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    write(dir.path(), "l.cf", &text.replace("masq 1", "masq 2"));
    wait_file(&out, &path.display().to_string()).await;
    d.wait("weight 2", LONG, |t| weight(t, rs[0].addr()) == Some(2))
        .await;
    d.stop().await;
}

/// Block the (only) runtime thread for `on`, then let it run for `off`
/// (zero: one turn of the runtime: every task ready then is polled once),
/// `times` times: the director cannot run, as when it is starved of CPU.
fn starve(on: Duration, off: Duration, times: u32) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        for _ in 0..times {
            std::thread::sleep(on);
            if off.is_zero() {
                tokio::task::yield_now().await;
            } else {
                tokio::time::sleep(off).await;
            }
        }
    })
}

// One thread: blocking it stops the director, its probes and the servers,
// as a CPU-starved machine does.
#[tokio::test(flavor = "current_thread")]
async fn timeouts_while_the_director_is_starved_of_cpu_are_not_counted() {
    let dir = tempfile::tempdir().unwrap();
    let rs = servers(38, 2).await;
    let path = write(
        dir.path(),
        "l.cf",
        &cf("", "", &[(&rs[0], 1), (&rs[1], 1)], None, 38),
    );
    let d = start(&path);
    let (a, b) = (rs[0].addr(), rs[1].addr());
    d.wait("up", LONG, |t| dests(t).len() == 2).await;
    // The director runs one turn every 2 s (checktimeout is 1 s), ten
    // times over: every check spans a stall. For as long as that lasts,
    // timeouts say nothing about the reals (the guard this replaces gave
    // up after 3 in a row).
    let stall = starve(Duration::from_secs(2), Duration::ZERO, 10);
    while !stall.is_finished() {
        let t = d.table.snapshot();
        assert!(
            has(&t, a) && has(&t, b),
            "a healthy real removed while the director was starved\n{:#?}",
            d.lines()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(d.count("Deleted real server"), 0, "{:#?}", d.lines());
    // A hung real is still found while the director runs half of the
    // time: it never answers, and the time the director did run counts.
    rs[0].set(Mode::Hang);
    let stall = starve(Duration::from_millis(300), Duration::from_millis(300), 40);
    d.wait("hung real removed", Duration::from_secs(15), |t| !has(t, a))
        .await;
    assert!(has(&d.table.snapshot(), b), "{:#?}", d.lines());
    d.wait_log(&format!("Deleted real server: {a}"), LONG).await;
    assert!(
        d.count("reason: timed out after 1s") >= 1,
        "{:#?}",
        d.lines()
    );
    // A refusal is an answer: counted at once even while starved.
    rs[1].set(Mode::Down);
    d.wait("refused real removed", LONG, |t| !has(t, b)).await;
    stall.abort();
    d.stop().await;
}
