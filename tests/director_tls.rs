//! The director and https reals: a warning in the event log when a real's
//! certificate expires within 14 days, at most once a day per real.

#[allow(unused_imports)] // Mode: not used here
mod common;
use common::*;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::io::AsyncWriteExt;

/// A TLS server on 127.0.0.1 whose certificate ends at `not_after`,
/// answering `200 OK` to anything.
async fn https_real(not_after: SystemTime) -> std::net::SocketAddr {
    let mut params = rcgen::CertificateParams::new(vec!["www.example.test".to_string()]).unwrap();
    params.not_after = time::OffsetDateTime::from(not_after);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![cert.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        // Bounded: one connection per check, a few seconds of checks.
        for _ in 0..64 {
            let Ok((s, _)) = listener.accept().await else {
                break;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(s).await {
                    let mut buf = [0u8; 1024];
                    let _ = tokio::io::AsyncReadExt::read(&mut tls, &mut buf).await;
                    let _ = tls
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nrs")
                        .await;
                    let _ = tls.shutdown().await;
                }
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_expiring_soon_is_a_warning_once_a_day() {
    let dir = tempfile::tempdir().unwrap();
    let soon = https_real(SystemTime::now() + Duration::from_secs(5 * 86_400 + 3600)).await;
    let later = https_real(SystemTime::now() + Duration::from_secs(60 * 86_400)).await;
    let path = write(
        dir.path(),
        "l.cf",
        &format!(
            "checkinterval=1\nnegotiatetimeout=2\nresyncinterval=60\nvirtual=127.61.0.100:443\n\treal={soon} masq\n\treal={later} masq\n\tservice=https\n\treceive=\"rs\"\n"
        ),
    );
    let d = start(&path);
    let warning = format!(
        "Warning: the TLS certificate of real server {soon} (127.61.0.100:443) expires in 5 days, at "
    );
    d.wait_log(&warning, Duration::from_secs(10)).await;
    // Both reals are up (not verified by default), and further checks
    // within the day add no warning.
    d.wait("both up", Duration::from_secs(10), |t| dests(t).len() == 2)
        .await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (_, _, lines) = d.stop().await;
    let warnings: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("TLS certificate"))
        .collect();
    assert_eq!(warnings.len(), 1, "{lines:#?}");
    assert!(!warnings[0].contains(&later.to_string()));
}
