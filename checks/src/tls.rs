//! The TLS client side shared by every probe that speaks TLS (https, imaps,
//! pops, ...): tokio-rustls with the ring provider, one client
//! configuration per verification mode built once (those that read files,
//! `tls/files.rs`, kept per set of files), the server name / SNI rule, the
//! handshake failure reason, and the peer certificate's end of validity
//! (`tls/not_after.rs`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

mod files;
mod not_after;

/// What an https check may set beyond [`crate::HttpProbe::verify_tls`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct TlsOptions {
    /// PEM bundle of the CAs to trust when verifying (`cafile=`); default:
    /// the system's bundle (`/etc/ssl/certs/ca-certificates.crt`, as LWP),
    /// else the built-in webpki (Mozilla) roots.
    pub cafile: Option<PathBuf>,
    /// Client certificate chain and its private key, both PEM
    /// (`clientcert=`, `clientkey=`): mutual TLS.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// The TLS server name (`sni=`): sent as SNI and, when verifying, the
    /// name the certificate must carry, instead of the Host header's. An IP
    /// address: no SNI is sent and the certificate must name that address.
    pub sni: Option<String>,
}

impl TlsOptions {
    /// Read the files and build the configuration once, for the config's
    /// load: the reason when a file is missing or not what it should be.
    pub fn check_files(&self, verify: bool) -> Result<(), String> {
        self.files(verify).build().map(|_| ())
    }

    /// Whether `name` can be an SNI override: a DNS name or an IP address.
    pub fn check_server_name(name: &str) -> Result<(), String> {
        match ServerName::try_from(name) {
            Ok(_) => Ok(()),
            Err(_) => Err("expected a DNS name or an IP address".into()),
        }
    }

    fn files(&self, verify: bool) -> files::Files {
        files::Files::new(verify, self.cafile.as_deref(), self.client_cert.as_ref())
    }
}

/// The client configuration of a check: the shared one for the common
/// cases (no verification and no client certificate), else the one built
/// from the files.
pub(crate) fn client_config(
    verify: bool,
    options: Option<&TlsOptions>,
) -> Result<Arc<ClientConfig>, String> {
    let client = options.is_some_and(|o| o.client_cert.is_some());
    if !verify && !client {
        return tls_config(false);
    }
    let files = match options {
        Some(o) => o.files(verify),
        None => files::Files::new(verify, None, None),
    };
    if files.cafile.is_none() && !client {
        return tls_config(verify);
    }
    files::config(files)
}

/// TLS handshake over `tcp` with `config` to `name` (see [`server_name`]).
pub(crate) async fn handshake_with(
    tcp: TcpStream,
    name: ServerName<'static>,
    config: Arc<ClientConfig>,
) -> Result<TlsStream<TcpStream>, String> {
    TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| tls_reason(&e))
}

/// When the certificate the peer of `tls` sent stops being valid.
pub(crate) fn peer_not_after<S>(tls: &TlsStream<S>) -> Option<SystemTime> {
    let certs = tls.get_ref().1.peer_certificates()?;
    not_after::not_after(certs.first()?)
}

/// TLS handshake over `tcp`: SNI from `host` when it is a DNS name (else the
/// IP of `addr`, and no SNI); the certificate is verified only when
/// `verify` is set. The error is a reason (`TLS handshake failed: ...`).
pub(crate) async fn handshake(
    tcp: TcpStream,
    host: Option<&str>,
    addr: SocketAddr,
    verify: bool,
) -> Result<TlsStream<TcpStream>, String> {
    handshake_with(tcp, server_name(host, addr), tls_config(verify)?).await
}

/// The TLS server name: `host` without any `:port` when it is a DNS name
/// (sent as SNI), else the IP address (no SNI is sent for an IP).
pub(crate) fn server_name(host: Option<&str>, addr: SocketAddr) -> ServerName<'static> {
    if let Some(h) = host {
        if let Ok(name) = ServerName::try_from(strip_port(h).to_string()) {
            return name;
        }
    }
    ServerName::IpAddress(addr.ip().into())
}

fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        // [v6]:port or [v6]
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
            name
        }
        _ => host,
    }
}

/// `TLS handshake failed: <detail>`.
pub(crate) fn tls_reason(e: &std::io::Error) -> String {
    use std::io::ErrorKind;
    let detail = match e.kind() {
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted => "connection reset".to_string(),
        ErrorKind::UnexpectedEof => "connection closed by server".to_string(),
        _ => alert_detail(e).unwrap_or_else(|| e.to_string()),
    };
    format!("TLS handshake failed: {detail}")
}

/// What a TLS alert from the server means, when `e` carries one worth
/// explaining. (With TLS 1.3 the server judges the client's certificate
/// after the client's side of the handshake is done, so its alert arrives
/// on the first read.)
pub(crate) fn alert_detail(e: &std::io::Error) -> Option<String> {
    use rustls::AlertDescription as A;
    match e.get_ref()?.downcast_ref::<rustls::Error>()? {
        rustls::Error::AlertReceived(A::CertificateRequired) => {
            Some("the server requires a client certificate (set clientcert= and clientkey=)".into())
        }
        // A server judges no certificate but the client's.
        rustls::Error::AlertReceived(
            a @ (A::BadCertificate
            | A::UnsupportedCertificate
            | A::CertificateRevoked
            | A::CertificateExpired
            | A::CertificateUnknown
            | A::UnknownCA
            | A::AccessDenied),
        ) => Some(format!(
            "the server refused the client certificate (alert {a:?})"
        )),
        _ => None,
    }
}

/// The shared client configurations, built once: certificate verification
/// off (`false`) or against the webpki roots (`true`).
pub(crate) fn tls_config(verify: bool) -> Result<Arc<ClientConfig>, String> {
    static NO_VERIFY: OnceLock<Result<Arc<ClientConfig>, String>> = OnceLock::new();
    static VERIFY: OnceLock<Result<Arc<ClientConfig>, String>> = OnceLock::new();
    let cell = if verify { &VERIFY } else { &NO_VERIFY };
    cell.get_or_init(|| build_tls_config(verify)).clone()
}

fn build_tls_config(verify: bool) -> Result<Arc<ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?;
    let config = if verify {
        let roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        builder.with_root_certificates(roots).with_no_client_auth()
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate::new(&provider)))
            .with_no_client_auth()
    };
    Ok(Arc::new(config))
}

/// Accepts any certificate, but still checks that the server holds the key
/// of the certificate it sent (handshake signatures), with the provider's
/// algorithms.
#[derive(Debug)]
struct AnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl AnyCertificate {
    fn new(provider: &CryptoProvider) -> Self {
        AnyCertificate {
            algorithms: provider.signature_verification_algorithms,
        }
    }
}

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_ports_are_stripped_for_sni() {
        assert_eq!(strip_port("example.com"), "example.com");
        assert_eq!(strip_port("example.com:8443"), "example.com");
        assert_eq!(strip_port("[::1]:443"), "::1");
        assert_eq!(strip_port("::1"), "::1");
    }

    #[test]
    fn sni_only_for_dns_names() {
        let addr: SocketAddr = "127.0.0.1:443".parse().unwrap();
        assert!(matches!(
            server_name(Some("www.example.com:443"), addr),
            ServerName::DnsName(n) if n.as_ref() == "www.example.com"
        ));
        assert!(matches!(
            server_name(Some("10.1.2.3"), addr),
            ServerName::IpAddress(_)
        ));
        assert!(matches!(server_name(None, addr), ServerName::IpAddress(_)));
    }

    #[test]
    fn tls_configs_are_built_once() {
        let a = tls_config(false).unwrap();
        let b = tls_config(false).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        let c = tls_config(true).unwrap();
        assert!(!Arc::ptr_eq(&a, &c));
    }
}
