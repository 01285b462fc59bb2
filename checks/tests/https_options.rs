//! `Probe::Http` with TLS options against loopback tokio-rustls servers
//! with rcgen certificates: a private CA trusted through `cafile`, a
//! certificate nobody trusts, a server that requires a client certificate,
//! the SNI override, and the end of validity of the server's certificate.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use common::{response, Server};
use ldirectord_checks::{run, HttpProbe, Probe, TlsOptions};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

const T: Duration = Duration::from_secs(3);

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

/// A certificate for `names` signed by `ca`, valid until `not_after` when
/// given; with its key.
fn leaf(
    ca: &CertifiedIssuer<'static, KeyPair>,
    names: &[&str],
    not_after: Option<SystemTime>,
) -> (rcgen::Certificate, KeyPair) {
    let mut params = CertificateParams::new(
        names
            .iter()
            .map(std::string::ToString::to_string)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    if let Some(t) = not_after {
        params.not_after = time::OffsetDateTime::from(t);
    }
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, ca).unwrap();
    (cert, key)
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// A TLS server with `cert`/`key`, requiring a client certificate signed by
/// `client_ca` when given; answers `200 OK` `secure`.
async fn tls_server(
    cert: &rcgen::Certificate,
    key: &KeyPair,
    client_ca: Option<&CertificateDer<'static>>,
) -> Server {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(ca.clone()).unwrap();
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                    .build()
                    .unwrap();
            builder.with_client_cert_verifier(verifier)
        }
    };
    let key = PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let config = builder
        .with_single_cert(vec![cert.der().clone()], key)
        .unwrap();
    common::tls_server_with(config, response("200 OK", "secure")).await
}

fn https(host: Option<&str>, verify: bool, options: TlsOptions) -> Probe {
    Probe::Http(HttpProbe {
        tls: true,
        host: host.map(str::to_string),
        verify_tls: verify,
        tls_options: Some(Arc::new(options)),
        ..HttpProbe::default()
    })
}

#[tokio::test]
async fn cafile_trusts_a_private_ca_and_the_name_must_match() {
    let dir = tempfile::tempdir().unwrap();
    let ca = ca("test CA");
    let cafile = write(dir.path(), "ca.pem", &ca.pem());
    let (cert, key) = leaf(&ca, &["www.example.test"], None);
    let mut srv = tls_server(&cert, &key, None).await;
    let with_ca = TlsOptions {
        cafile: Some(cafile.clone()),
        ..TlsOptions::default()
    };
    let o = run(
        &https(Some("www.example.test"), true, with_ca.clone()),
        srv.addr,
        T,
    )
    .await;
    assert_eq!((o.up, o.reason.as_str()), (true, "HTTP 200"));
    assert_eq!(
        srv.next_seen().await.sni.as_deref(),
        Some("www.example.test")
    );
    // The same CA, another name: down.
    let o = run(
        &https(Some("other.example.test"), true, with_ca.clone()),
        srv.addr,
        T,
    )
    .await;
    assert!(!o.up);
    assert!(
        o.reason
            .starts_with("TLS handshake failed: invalid peer certificate: certificate not valid for name \"other.example.test\""),
        "{}",
        o.reason
    );
    // Without the CA (the system's bundle): nobody vouches for it.
    let o = run(
        &https(Some("www.example.test"), true, TlsOptions::default()),
        srv.addr,
        T,
    )
    .await;
    assert_eq!(
        (o.up, o.reason.as_str()),
        (
            false,
            "TLS handshake failed: invalid peer certificate: UnknownIssuer"
        )
    );
    // Not verifying (the default): up whatever the name.
    let o = run(
        &https(Some("other.example.test"), false, with_ca),
        srv.addr,
        T,
    )
    .await;
    assert_eq!((o.up, o.reason.as_str()), (true, "HTTP 200"));
}

#[tokio::test]
async fn sni_overrides_the_host_header_for_tls() {
    let dir = tempfile::tempdir().unwrap();
    let ca = ca("test CA");
    let cafile = write(dir.path(), "ca.pem", &ca.pem());
    let (cert, key) = leaf(&ca, &["backend.example.test"], None);
    let mut srv = tls_server(&cert, &key, None).await;
    let options = TlsOptions {
        cafile: Some(cafile),
        sni: Some("backend.example.test".into()),
        ..TlsOptions::default()
    };
    let o = run(
        &https(Some("www.example.test"), true, options.clone()),
        srv.addr,
        T,
    )
    .await;
    assert_eq!((o.up, o.reason.as_str()), (true, "HTTP 200"));
    let seen = srv.next_seen().await;
    assert_eq!(seen.sni.as_deref(), Some("backend.example.test"));
    assert_eq!(seen.header("host").as_deref(), Some("www.example.test"));
    // An IP address as the name: no SNI, and the certificate must name it.
    let by_ip = TlsOptions {
        sni: Some("127.0.0.1".into()),
        ..options
    };
    let o = run(
        &https(Some("www.example.test"), true, by_ip.clone()),
        srv.addr,
        T,
    )
    .await;
    assert!(!o.up);
    assert!(o.reason.contains("not valid for name"), "{}", o.reason);
    let o = run(&https(Some("www.example.test"), false, by_ip), srv.addr, T).await;
    assert!(o.up, "{o:?}");
    assert_eq!(srv.next_seen().await.sni, None);
}

#[tokio::test]
async fn a_client_certificate_is_sent_when_the_server_requires_one() {
    let dir = tempfile::tempdir().unwrap();
    let server_ca = ca("server CA");
    let client_ca = ca("client CA");
    let (cert, key) = leaf(&server_ca, &["www.example.test"], None);
    let srv = tls_server(&cert, &key, Some(client_ca.der())).await;
    // Without one: down, and the reason says what is missing.
    let o = run(
        &https(Some("www.example.test"), false, TlsOptions::default()),
        srv.addr,
        T,
    )
    .await;
    assert_eq!(
        (o.up, o.reason.as_str()),
        (
            false,
            "TLS: the server requires a client certificate (set clientcert= and clientkey=)"
        )
    );
    // With one the server trusts: up.
    let (ccert, ckey) = leaf(&client_ca, &["health-checker"], None);
    let client = (
        write(dir.path(), "client.pem", &ccert.pem()),
        write(dir.path(), "client.key", &ckey.serialize_pem()),
    );
    let options = TlsOptions {
        client_cert: Some(client),
        ..TlsOptions::default()
    };
    let o = run(
        &https(Some("www.example.test"), false, options),
        srv.addr,
        T,
    )
    .await;
    assert_eq!((o.up, o.reason.as_str()), (true, "HTTP 200"));
    // With one from another CA: refused.
    let (other, okey) = leaf(&server_ca, &["intruder"], None);
    let options = TlsOptions {
        client_cert: Some((
            write(dir.path(), "other.pem", &other.pem()),
            write(dir.path(), "other.key", &okey.serialize_pem()),
        )),
        ..TlsOptions::default()
    };
    let o = run(
        &https(Some("www.example.test"), false, options),
        srv.addr,
        T,
    )
    .await;
    assert_eq!(
        (o.up, o.reason.as_str()),
        (
            false,
            "TLS: the server refused the client certificate (alert UnknownCA)"
        )
    );
}

#[tokio::test]
async fn the_end_of_the_certificate_validity_is_reported() {
    let ca = ca("test CA");
    let soon = SystemTime::now() + Duration::from_secs(5 * 86_400);
    let (cert, key) = leaf(&ca, &["www.example.test"], Some(soon));
    let srv = tls_server(&cert, &key, None).await;
    let o = run(
        &https(Some("www.example.test"), false, TlsOptions::default()),
        srv.addr,
        T,
    )
    .await;
    assert!(o.up, "{o:?}");
    let got = o.cert_not_after.expect("no notAfter");
    // Whole seconds in the certificate.
    let diff = got.duration_since(soon).unwrap_or_else(|e| e.duration());
    assert!(diff < Duration::from_secs(1), "{got:?} vs {soon:?}");
    // Plain HTTP has none.
    let plain = common::http_server(response("200 OK", "")).await;
    let o = run(&Probe::Http(HttpProbe::default()), plain.addr, T).await;
    assert_eq!(o.cert_not_after, None);
}

#[tokio::test]
async fn unreadable_files_are_reasons_before_connecting() {
    let addr = common::closed_port().await;
    let options = TlsOptions {
        cafile: Some("/nonexistent/ca.pem".into()),
        ..TlsOptions::default()
    };
    let o = run(&https(None, true, options), addr, T).await;
    assert_eq!(
        (o.up, o.reason.as_str()),
        (
            false,
            "TLS setup failed: cafile /nonexistent/ca.pem: No such file or directory (os error 2)"
        )
    );
}

/// What ldirectord's check_http does on https (LWP::UserAgent with
/// `verify_hostname => 0`), run with perl on the same self-signed server:
/// Debian's LWP::Protocol::https leaves IO::Socket::SSL's default, which
/// verifies the chain against the system's CAs; so ldirectord says down
/// where ldirectord-rs (not verifying unless asked) says up.
#[tokio::test]
async fn ldirectords_lwp_refuses_a_self_signed_certificate() {
    let ca = ca("nobody's CA");
    let (cert, key) = leaf(&ca, &["www.example.test"], None);
    let srv = tls_server(&cert, &key, None).await;
    let url = format!("https://{}/", srv.addr);
    const SCRIPT: &str = r#"
        use LWP::UserAgent;
        my $ua = new LWP::UserAgent(ssl_opts => { verify_hostname => 0 });
        $ua->timeout(5);
        my $res = $ua->request(new HTTP::Request("GET", $ARGV[0]));
        print $res->status_line, "\n";
    "#;
    let lwp = tokio::task::spawn_blocking(move || {
        std::process::Command::new("perl")
            .args(["-e", SCRIPT, &url])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    })
    .await
    .unwrap();
    let Some(status) = lwp.filter(|s| !s.contains("Protocol scheme 'https' is not supported"))
    else {
        println!("SKIPPED: perl with LWP::Protocol::https not found (liblwp-protocol-https-perl)");
        return;
    };
    assert!(
        status.starts_with("500") && status.contains("certificate verify failed"),
        "LWP: {status}"
    );
    let o = run(
        &https(Some("www.example.test"), false, TlsOptions::default()),
        srv.addr,
        T,
    )
    .await;
    assert_eq!((o.up, o.reason.as_str()), (true, "HTTP 200"));
}
