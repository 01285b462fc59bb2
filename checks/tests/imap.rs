//! `service=imap` / `imaps` against a real Dovecot (when installed) with a
//! login, and against scripted IMAP servers on loopback.

mod common;
mod script;
mod servers;

use std::time::Duration;

use ldirectord_checks::{run, BannerProtocol, MailLoginProbe, MailProtocol, Outcome, Probe};
use script::{server, tls_server, Act};
use servers::dovecot::Dovecot;
use servers::local;

const T: Duration = Duration::from_secs(3);

fn imap(tls: bool) -> Probe {
    Probe::Banner {
        protocol: BannerProtocol::Imap,
        tls,
    }
}

fn imap_login(tls: bool, user: &str, password: &str) -> Probe {
    Probe::MailLogin(MailLoginProbe {
        protocol: MailProtocol::Imap,
        tls,
        user: user.to_string(),
        password: password.to_string(),
    })
}

fn verdict(o: &Outcome) -> (bool, &str) {
    (o.up, o.reason.as_str())
}

const REFUSED: &str = r#"login refused: "a1 NO [AUTHENTICATIONFAILED] Authentication failed.""#;

#[tokio::test]
async fn real_dovecot_login() {
    if !servers::have(servers::dovecot::BINARY, "dovecot-pop3d dovecot-imapd") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let dv = Dovecot::start(
        dir.path(),
        &[("probe", "probe-pw"), ("quoted", "a\\b\"c d")],
    );
    let (imap, imaps) = (local(dv.imap), local(dv.imaps));

    let o = run(&imap_plain(false), imap, T).await;
    assert_eq!(verdict(&o), (true, "IMAP OK"), "{o:?}");
    for addr in [imap, imaps] {
        let tls = addr == imaps;
        let o = run(&imap_login(tls, "probe", "probe-pw"), addr, T).await;
        assert_eq!(
            verdict(&o),
            (true, "IMAP logged in"),
            "{o:?}\n{}",
            dv.log_text()
        );
        let o = run(&imap_login(tls, "probe", "wrong-pw"), addr, T).await;
        assert_eq!(verdict(&o), (false, REFUSED));
        let o = run(&imap_login(tls, "nobody-here", "probe-pw"), addr, T).await;
        assert_eq!(verdict(&o), (false, REFUSED));
    }
    // Quotes, backslashes and spaces in the password are escaped (Dovecot
    // refuses such characters in user names).
    let o = run(&imap_login(false, "quoted", "a\\b\"c d"), imap, T).await;
    assert_eq!(verdict(&o), (true, "IMAP logged in"), "{}", dv.log_text());
    let o = run(&imap_login(true, "probe", "probe-pw"), imap, T).await;
    assert!(o.reason.starts_with("TLS handshake failed"), "{o:?}");

    dv.set_password("probe", "changed-password");
    let o = run(&imap_login(false, "probe", "probe-pw"), imap, T).await;
    assert_eq!(verdict(&o), (false, REFUSED));
    let o = run(&imap_login(true, "probe", "changed-password"), imaps, T).await;
    assert_eq!(verdict(&o), (true, "IMAP logged in"));

    dv.proc.signal_group("STOP");
    let short = Duration::from_secs(1);
    for (tls, addr) in [(false, imap), (true, imaps)] {
        let o = run(&imap_login(tls, "probe", "changed-password"), addr, short).await;
        assert_eq!(verdict(&o), (false, "timed out after 1s"));
    }
    dv.proc.signal_group("CONT");
    let o = run(&imap_login(false, "probe", "changed-password"), imap, T).await;
    assert_eq!(verdict(&o), (true, "IMAP logged in"));

    let Dovecot { proc, .. } = dv;
    proc.stop();
    let o = run(&imap_login(false, "probe", "changed-password"), imap, T).await;
    assert_eq!(verdict(&o), (false, "connection refused"));
}

fn imap_plain(tls: bool) -> Probe {
    imap(tls)
}

#[tokio::test]
async fn login_dialogue_and_refusals() {
    const LOGIN: script::Rules = &[
        (
            "a1 LOGIN \"probe\" \"secret\"",
            Act::Say("* CAPABILITY IMAP4rev1 IDLE\r\na1 OK [CAPABILITY IMAP4rev1] Logged in\r\n"),
        ),
        (
            "a1 LOGIN",
            Act::Say("a1 NO [AUTHENTICATIONFAILED] nope\r\n"),
        ),
        (
            "a2 LOGOUT",
            Act::SayClose("* BYE bye\r\na2 OK LOGOUT completed\r\n"),
        ),
    ];
    let mut s = server("* OK ready\r\n", LOGIN).await;
    let o = run(&imap_login(false, "probe", "secret"), s.addr, T).await;
    assert_eq!(verdict(&o), (true, "IMAP logged in"));
    assert_eq!(
        s.next_lines().await,
        vec![r#"a1 LOGIN "probe" "secret""#, "a2 LOGOUT"]
    );
    let o = run(&imap_login(false, "probe", "guess"), s.addr, T).await;
    assert_eq!(
        verdict(&o),
        (
            false,
            r#"login refused: "a1 NO [AUTHENTICATIONFAILED] nope""#
        )
    );
    assert_eq!(
        s.next_lines().await,
        vec![r#"a1 LOGIN "probe" "guess""#, "a2 LOGOUT"]
    );

    // PREAUTH: already logged in, no LOGIN sent.
    let mut s = server("* PREAUTH welcome back\r\n", LOGIN).await;
    let o = run(&imap_login(false, "probe", "secret"), s.addr, T).await;
    assert_eq!(verdict(&o), (true, "IMAP PREAUTH"));
    assert_eq!(s.next_lines().await, vec!["a2 LOGOUT"]);

    // BYE instead of a tagged answer.
    const BYE: script::Rules = &[("a1 LOGIN", Act::SayClose("* BYE too many logins\r\n"))];
    let s = server("* OK ready\r\n", BYE).await;
    let o = run(&imap_login(false, "probe", "secret"), s.addr, T).await;
    assert_eq!(
        verdict(&o),
        (false, r#"login refused: "* BYE too many logins""#)
    );

    // A server that never answers the LOGIN times out.
    const SILENT: script::Rules = &[("a1 LOGIN", Act::Ignore)];
    let s = server("* OK ready\r\n", SILENT).await;
    let o = run(
        &imap_login(false, "probe", "secret"),
        s.addr,
        Duration::from_secs(1),
    )
    .await;
    assert_eq!(verdict(&o), (false, "timed out after 1s"));

    // Line breaks in the login are never sent.
    let mut s = server("* OK ready\r\n", LOGIN).await;
    let o = run(
        &imap_login(false, "probe\r\na2 DELETE INBOX", "x"),
        s.addr,
        T,
    )
    .await;
    assert_eq!(
        verdict(&o),
        (false, "login or passwd contains a line break or NUL")
    );
    assert_eq!(s.next_lines().await, vec!["a2 LOGOUT"]);
}

const RULES: script::Rules = &[(
    "a1 LOGOUT",
    Act::SayClose("* BYE logging out\r\na1 OK LOGOUT completed\r\n"),
)];

#[tokio::test]
async fn ok_greeting_is_up_and_logs_out() {
    let mut s = server(
        "* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] Dovecot ready.\r\n",
        RULES,
    )
    .await;
    let out = run(&imap(false), s.addr, T).await;
    assert!(out.up, "{out:?}");
    assert_eq!(out.reason, "IMAP OK");
    assert_eq!(s.next_lines().await, vec!["a1 LOGOUT"]);
}

#[tokio::test]
async fn preauth_is_up_bye_is_down() {
    let s = server("* preauth logged in as you\r\n", RULES).await;
    let out = run(&imap(false), s.addr, T).await;
    assert_eq!((out.up, out.reason.as_str()), (true, "IMAP PREAUTH"));
    let s = server("* BYE server overloaded\r\n", RULES).await;
    let out = run(&imap(false), s.addr, T).await;
    assert!(!out.up);
    assert_eq!(
        out.reason,
        r#"unexpected greeting "* BYE server overloaded""#
    );
}

#[tokio::test]
async fn imaps_is_imap_inside_tls() {
    let mut s = tls_server("* OK IMAPS ready\r\n", RULES).await;
    let out = run(&imap(true), s.addr, T).await;
    assert!(out.up, "{out:?}");
    assert_eq!(s.next_lines().await, vec!["a1 LOGOUT"]);
}

#[tokio::test]
async fn early_close_and_silence_are_down() {
    let s = server("", &[]).await;
    // The script server sends nothing and waits for a line: close it from
    // our side after the deadline.
    let out = run(&imap(false), s.addr, Duration::from_secs(1)).await;
    assert_eq!((out.up, out.reason.as_str()), (false, "timed out after 1s"));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        use tokio::io::AsyncWriteExt;
        let _ = s.write_all(b"* OK half a gree").await;
    });
    let out = run(&imap(false), addr, T).await;
    assert_eq!(
        (out.up, out.reason.as_str()),
        (false, "connection closed before greeting")
    );
}
