//! `Probe::Ftp` against a real pyftpdlib server (when installed) and
//! scripted servers for the failure cases.

mod common;
mod script;
mod servers;

use std::time::Duration;

use ldirectord_checks::{run, FtpProbe, Probe};
use regex::bytes::Regex;
use script::{server, Act};

const T: Duration = Duration::from_secs(5);

fn ftp(retrieve: Option<&str>, receive: Option<&str>) -> Probe {
    Probe::Ftp(FtpProbe {
        retrieve: retrieve.map(str::to_string),
        receive: receive.map(|r| Regex::new(r).unwrap().into()),
        ..FtpProbe::default()
    })
}

fn pyftpdlib() -> bool {
    std::process::Command::new("/usr/bin/python3")
        .args(["-c", "import pyftpdlib"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[tokio::test]
async fn real_pyftpdlib() {
    if !pyftpdlib() {
        println!("SKIPPED: python3-pyftpdlib not installed (apt-get install python3-pyftpdlib)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("check.txt"), "ftp is alive\n").unwrap();
    let addr = common::closed_port().await;
    let mut child = tokio::process::Command::new("/usr/bin/python3")
        .args(["-m", "pyftpdlib", "-i", "127.0.0.1", "-p"])
        .arg(addr.port().to_string())
        .arg("-d")
        .arg(dir.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start pyftpdlib");
    let login = ftp(None, None);
    let mut out = run(&login, addr, Duration::from_millis(500)).await;
    for _ in 0..50 {
        if out.up {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        out = run(&login, addr, Duration::from_millis(500)).await;
    }
    assert_eq!((out.up, out.reason.as_str()), (true, "FTP 230"), "{out:?}");

    let out = run(&ftp(Some("/check.txt"), Some("alive")), addr, T).await;
    assert_eq!(
        (out.up, out.reason.as_str()),
        (true, r#"RETR /check.txt matched "alive""#)
    );
    let out = run(&ftp(Some("/check.txt"), Some("dead")), addr, T).await;
    assert_eq!(
        (out.up, out.reason.as_str()),
        (false, r#"RETR /check.txt did not match "dead""#)
    );
    let out = run(&ftp(Some("/check.txt"), None), addr, T).await;
    assert_eq!(
        (out.up, out.reason.as_str()),
        (true, "RETR /check.txt: 13 bytes")
    );
    let out = run(&ftp(Some("/missing.txt"), Some("x")), addr, T).await;
    assert!(!out.up);
    assert!(
        out.reason.starts_with("RETR /missing.txt: \"550 "),
        "{}",
        out.reason
    );
    child.kill().await.unwrap();
}

fn login(user: &str, password: &str, retrieve: Option<&str>, receive: Option<&str>) -> Probe {
    Probe::Ftp(FtpProbe {
        user: user.to_string(),
        password: password.to_string(),
        retrieve: retrieve.map(str::to_string),
        receive: receive.map(|r| Regex::new(r).unwrap().into()),
    })
}

/// pyftpdlib with one user (`-u`/`-P`: anonymous refused): up, wrong
/// password, the file's content, hung (SIGSTOP) and stopped.
#[tokio::test]
async fn real_pyftpdlib_login() {
    if !pyftpdlib() {
        println!("SKIPPED: python3-pyftpdlib not installed (apt-get install python3-pyftpdlib)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("check.txt"), "ftp is alive\n").unwrap();
    let port = servers::free_port();
    let addr = servers::local(port);
    let mut server = servers::Proc::start_group(
        "pyftpdlib",
        std::process::Command::new("/usr/bin/python3")
            .args(["-m", "pyftpdlib", "-i", "127.0.0.1", "-p"])
            .arg(port.to_string())
            .arg("-d")
            .arg(dir.path())
            .args(["-u", "probe", "-P", "probe-pw"]),
        &dir.path().join("ftpd.log"),
    );
    server.wait_ready(Duration::from_secs(20), || servers::listening(port));

    let o = run(&login("probe", "probe-pw", None, None), addr, T).await;
    assert_eq!((o.up, o.reason.as_str()), (true, "FTP 230"), "{o:?}");
    let o = run(
        &login("probe", "probe-pw", Some("/check.txt"), Some("alive")),
        addr,
        T,
    )
    .await;
    assert_eq!(
        (o.up, o.reason.as_str()),
        (true, r#"RETR /check.txt matched "alive""#)
    );
    // pyftpdlib answers a failed login after 3 seconds.
    let o = run(&login("probe", "wrong-pw", None, None), addr, T).await;
    assert_eq!(
        (o.up, o.reason.as_str()),
        (false, r#"login refused: "530 Authentication failed.""#)
    );
    // Anonymous is refused once a user is configured.
    let o = run(&ftp(None, None), addr, T).await;
    assert!(!o.up);
    assert!(o.reason.starts_with("login refused: \"530 "), "{o:?}");

    // Hung: the server stopped (SIGSTOP); the kernel still accepts.
    server.signal_group("STOP");
    let o = run(
        &login("probe", "probe-pw", None, None),
        addr,
        Duration::from_secs(1),
    )
    .await;
    assert_eq!((o.up, o.reason.as_str()), (false, "timed out after 1s"));
    server.signal_group("CONT");
    let o = run(&login("probe", "probe-pw", None, None), addr, T).await;
    assert_eq!((o.up, o.reason.as_str()), (true, "FTP 230"));

    // Stopped: refused.
    server.stop();
    let o = run(&login("probe", "probe-pw", None, None), addr, T).await;
    assert_eq!((o.up, o.reason.as_str()), (false, "connection refused"));
}

#[tokio::test]
async fn login_refused_is_down_and_quits() {
    let mut s = server(
        "220 ftp ready\r\n",
        &[
            ("USER anonymous", Act::Say("331 send password\r\n")),
            ("PASS -anonymous@", Act::Say("530 Login incorrect.\r\n")),
            ("QUIT", Act::SayClose("221 bye\r\n")),
        ],
    )
    .await;
    let out = run(&ftp(None, None), s.addr, T).await;
    assert_eq!(
        (out.up, out.reason.as_str()),
        (false, r#"login refused: "530 Login incorrect.""#)
    );
    assert_eq!(
        s.next_lines().await,
        vec!["USER anonymous", "PASS -anonymous@", "QUIT"]
    );
}

#[tokio::test]
async fn preliminary_greeting_then_user_logged_in_at_once() {
    let mut s = server(
        "120 ready in a moment\r\n220-welcome\r\n220 ready\r\n",
        &[
            ("USER anonymous", Act::Say("230 logged in\r\n")),
            ("QUIT", Act::SayClose("221 bye\r\n")),
        ],
    )
    .await;
    let out = run(&ftp(None, None), s.addr, T).await;
    assert_eq!((out.up, out.reason.as_str()), (true, "FTP 230"));
    assert_eq!(s.next_lines().await, vec!["USER anonymous", "QUIT"]);
}

#[tokio::test]
async fn pasv_address_is_ignored_for_the_server_own() {
    // EPSV unknown; PASV names 192.0.2.1 (TEST-NET, unreachable) and a
    // port where nothing listens on 127.0.0.1: the probe must try
    // 127.0.0.1, and so fail with "refused", not time out on 192.0.2.1.
    let s = server(
        "220 ready\r\n",
        &[
            ("USER", Act::Say("230 ok\r\n")),
            ("TYPE I", Act::Say("200 ok\r\n")),
            ("EPSV", Act::Say("502 no\r\n")),
            (
                "PASV",
                Act::Say("227 Entering Passive Mode (192,0,2,1,0,9)\r\n"),
            ),
            ("QUIT", Act::SayClose("221 bye\r\n")),
        ],
    )
    .await;
    let out = run(&ftp(Some("/f"), Some("x")), s.addr, T).await;
    assert!(!out.up);
    assert_eq!(
        out.reason,
        "data connection to 127.0.0.1:9: connection refused"
    );
}

#[tokio::test]
async fn bad_greeting_refused_and_silent_are_down() {
    let s = server(
        "421 too many users\r\n",
        &[("QUIT", Act::SayClose("221\r\n"))],
    )
    .await;
    let out = run(&ftp(None, None), s.addr, T).await;
    assert_eq!(
        (out.up, out.reason.as_str()),
        (false, r#"unexpected greeting "421 too many users""#)
    );
    let out = run(&ftp(None, None), common::closed_port().await, T).await;
    assert_eq!((out.up, out.reason.as_str()), (false, "connection refused"));
    let out = run(
        &ftp(None, None),
        common::hung_server().await,
        Duration::from_secs(1),
    )
    .await;
    assert_eq!((out.up, out.reason.as_str()), (false, "timed out after 1s"));
}
