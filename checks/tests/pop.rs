//! `service=pop` / `pops` against a real Dovecot (when installed) with a
//! login, and against scripted POP3 servers on loopback.

mod common;
mod script;
mod servers;

use std::time::Duration;

use ldirectord_checks::{run, BannerProtocol, MailLoginProbe, MailProtocol, Outcome, Probe};
use script::{server, tls_server, Act};
use servers::dovecot::Dovecot;
use servers::local;

const T: Duration = Duration::from_secs(3);

fn pop(tls: bool) -> Probe {
    Probe::Banner {
        protocol: BannerProtocol::Pop,
        tls,
    }
}

fn pop_login(tls: bool, user: &str, password: &str) -> Probe {
    Probe::MailLogin(MailLoginProbe {
        protocol: MailProtocol::Pop,
        tls,
        user: user.to_string(),
        password: password.to_string(),
    })
}

fn verdict(o: &Outcome) -> (bool, &str) {
    (o.up, o.reason.as_str())
}

const RULES: script::Rules = &[("QUIT", Act::SayClose("+OK bye\r\n"))];

const REFUSED: &str = r#"login refused: "-ERR [AUTH] Authentication failed.""#;

#[tokio::test]
async fn real_dovecot_login() {
    if !servers::have(servers::dovecot::BINARY, "dovecot-pop3d dovecot-imapd") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let dv = Dovecot::start(dir.path(), &[("probe", "probe-pw")]);
    let (pop3, pop3s) = (local(dv.pop3), local(dv.pop3s));

    // Up: the greeting alone, and the login (plain and inside TLS).
    let o = run(&pop(false), pop3, T).await;
    assert_eq!(verdict(&o), (true, "POP3 +OK"), "{o:?}");
    for addr in [pop3, pop3s] {
        let tls = addr == pop3s;
        let o = run(&pop_login(tls, "probe", "probe-pw"), addr, T).await;
        assert_eq!(
            verdict(&o),
            (true, "POP3 logged in"),
            "{o:?}\n{}",
            dv.log_text()
        );
        // Wrong password, unknown user: down, and the password is not in
        // the reason.
        let o = run(&pop_login(tls, "probe", "wrong-pw"), addr, T).await;
        assert_eq!(verdict(&o), (false, REFUSED));
        let o = run(&pop_login(tls, "nobody-here", "probe-pw"), addr, T).await;
        assert_eq!(verdict(&o), (false, REFUSED));
    }
    // A pops check on the plain port fails in the handshake.
    let o = run(&pop_login(true, "probe", "probe-pw"), pop3, T).await;
    assert!(o.reason.starts_with("TLS handshake failed"), "{o:?}");

    // The password changes on the server: the old one is refused now.
    dv.set_password("probe", "changed-password");
    let o = run(&pop_login(false, "probe", "probe-pw"), pop3, T).await;
    assert_eq!(verdict(&o), (false, REFUSED));
    let o = run(&pop_login(false, "probe", "changed-password"), pop3, T).await;
    assert_eq!(verdict(&o), (true, "POP3 logged in"));

    // Hung: every Dovecot process stopped; the kernel still accepts.
    dv.proc.signal_group("STOP");
    let short = Duration::from_secs(1);
    let o = run(&pop_login(false, "probe", "changed-password"), pop3, short).await;
    assert_eq!(verdict(&o), (false, "timed out after 1s"));
    let o = run(&pop_login(true, "probe", "changed-password"), pop3s, short).await;
    assert_eq!(verdict(&o), (false, "timed out after 1s"));
    dv.proc.signal_group("CONT");
    let o = run(&pop_login(false, "probe", "changed-password"), pop3, T).await;
    assert_eq!(verdict(&o), (true, "POP3 logged in"));

    // Stopped: refused.
    let Dovecot { proc, .. } = dv;
    proc.stop();
    let o = run(&pop_login(false, "probe", "changed-password"), pop3, T).await;
    assert_eq!(verdict(&o), (false, "connection refused"));
}

#[tokio::test]
async fn login_dialogue_and_refusals() {
    const LOGIN: script::Rules = &[
        ("USER probe", Act::Say("+OK\r\n")),
        ("USER", Act::Say("-ERR no such user\r\n")),
        ("PASS secret", Act::Say("+OK logged in\r\n")),
        ("PASS", Act::Say("-ERR [AUTH] bad password\r\n")),
        ("STAT", Act::Say("+OK 0 0\r\n")),
        ("QUIT", Act::SayClose("+OK bye\r\n")),
    ];
    let mut s = server("+OK ready\r\n", LOGIN).await;
    let o = run(&pop_login(false, "probe", "secret"), s.addr, T).await;
    assert_eq!(verdict(&o), (true, "POP3 logged in"));
    assert_eq!(
        s.next_lines().await,
        vec!["USER probe", "PASS secret", "STAT", "QUIT"]
    );
    let o = run(&pop_login(false, "probe", "guess"), s.addr, T).await;
    assert_eq!(
        verdict(&o),
        (false, r#"login refused: "-ERR [AUTH] bad password""#)
    );
    assert_eq!(
        s.next_lines().await,
        vec!["USER probe", "PASS guess", "QUIT"]
    );
    let o = run(&pop_login(false, "eve", "secret"), s.addr, T).await;
    assert_eq!(verdict(&o), (false, r#"USER refused: "-ERR no such user""#));
    assert_eq!(s.next_lines().await, vec!["USER eve", "QUIT"]);
    // An empty password is sent as such (Mail::POP3Client does the same).
    let o = run(&pop_login(false, "probe", ""), s.addr, T).await;
    assert!(!o.up);
    assert_eq!(s.next_lines().await, vec!["USER probe", "PASS ", "QUIT"]);

    // A mailbox that cannot be opened: STAT fails, down.
    const NO_STAT: script::Rules = &[
        ("USER", Act::Say("+OK\r\n")),
        ("PASS", Act::Say("+OK\r\n")),
        ("STAT", Act::Say("-ERR [SYS/TEMP] mailbox locked\r\n")),
        ("QUIT", Act::SayClose("+OK bye\r\n")),
    ];
    let s = server("+OK ready\r\n", NO_STAT).await;
    let o = run(&pop_login(false, "probe", "secret"), s.addr, T).await;
    assert_eq!(
        verdict(&o),
        (false, r#"STAT refused: "-ERR [SYS/TEMP] mailbox locked""#)
    );

    // A bad greeting is down before any login is sent.
    let mut s = server("-ERR busy\r\n", LOGIN).await;
    let o = run(&pop_login(false, "probe", "secret"), s.addr, T).await;
    assert_eq!(verdict(&o), (false, r#"unexpected greeting "-ERR busy""#));
    assert_eq!(s.next_lines().await, vec!["QUIT"]);

    // A line break in the password is never sent.
    let mut s = server("+OK ready\r\n", LOGIN).await;
    let o = run(&pop_login(false, "probe", "a\r\nDELE 1"), s.addr, T).await;
    assert_eq!(
        verdict(&o),
        (false, "login or passwd contains a line break or NUL")
    );
    assert_eq!(s.next_lines().await, vec!["QUIT"]);
}

#[tokio::test]
async fn ok_greeting_is_up_and_quits() {
    let mut s = server("+OK POP3 ready <1.2@test>\r\n", RULES).await;
    let out = run(&pop(false), s.addr, T).await;
    assert!(out.up, "{out:?}");
    assert_eq!(out.reason, "POP3 +OK");
    assert_eq!(s.next_lines().await, vec!["QUIT"]);
}

#[tokio::test]
async fn err_greeting_is_down() {
    let s = server("-ERR too many connections\r\n", RULES).await;
    let out = run(&pop(false), s.addr, T).await;
    assert!(!out.up);
    assert_eq!(
        out.reason,
        r#"unexpected greeting "-ERR too many connections""#
    );
}

#[tokio::test]
async fn pops_is_pop_inside_tls() {
    let mut s = tls_server("+OK POP3 over TLS\r\n", RULES).await;
    let out = run(&pop(true), s.addr, T).await;
    assert!(out.up, "{out:?}");
    assert_eq!(s.next_lines().await, vec!["QUIT"]);
    // A plain POP3 server is not a pops one.
    let plain = server("+OK POP3 ready\r\n", RULES).await;
    let out = run(&pop(true), plain.addr, T).await;
    assert!(!out.up);
    assert!(
        out.reason.starts_with("TLS handshake failed"),
        "{}",
        out.reason
    );
}

#[tokio::test]
async fn silent_and_refused_are_down() {
    let out = run(
        &pop(true),
        common::hung_server().await,
        Duration::from_secs(1),
    )
    .await;
    assert_eq!((out.up, out.reason.as_str()), (false, "timed out after 1s"));
    let out = run(&pop(false), common::closed_port().await, T).await;
    assert_eq!((out.up, out.reason.as_str()), (false, "connection refused"));
}
