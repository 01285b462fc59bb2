//! The client configurations that read files: a CA bundle to verify
//! against (`cafile=`, else the system's bundle), a client certificate and
//! key (mutual TLS). Each distinct set of files is read once and kept; the
//! files are looked at again (their modification times) at most every
//! [`REFRESH`], and re-read when one changed, so a renewed certificate is
//! taken without a reload. A file that cannot be read is a reason, kept and
//! retried the same way.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};

use super::AnyCertificate;

/// The system's CA bundle: Debian's `ca-certificates`, which LWP (and so
/// ldirectord) verifies against, and where `update-ca-certificates` puts a
/// site's own CA.
pub(crate) const SYSTEM_CA: &str = "/etc/ssl/certs/ca-certificates.crt";

/// How long a configuration is used before its files are looked at again.
const REFRESH: Duration = Duration::from_secs(10);

/// What a configuration is built from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Files {
    /// Verify the server's certificate.
    pub verify: bool,
    /// The CA bundle (with `verify`); `None`: the built-in webpki roots.
    pub cafile: Option<PathBuf>,
    /// Client certificate chain and key.
    pub client: Option<(PathBuf, PathBuf)>,
}

impl Files {
    /// `cafile` defaults to the system bundle when it exists.
    pub(crate) fn new(
        verify: bool,
        cafile: Option<&Path>,
        client: Option<&(PathBuf, PathBuf)>,
    ) -> Files {
        let cafile = match cafile {
            Some(f) => Some(f.to_path_buf()),
            None if verify && Path::new(SYSTEM_CA).exists() => Some(PathBuf::from(SYSTEM_CA)),
            None => None,
        };
        Files {
            verify,
            cafile: cafile.filter(|_| verify),
            client: client.cloned(),
        }
    }

    fn paths(&self) -> impl Iterator<Item = &Path> {
        let client = self
            .client
            .iter()
            .flat_map(|(c, k)| [c.as_path(), k.as_path()]);
        self.cafile.as_deref().into_iter().chain(client)
    }

    /// The modification time and size of each file (`None` where
    /// unreadable).
    fn stamps(&self) -> Vec<Option<(SystemTime, u64)>> {
        self.paths()
            .map(|p| {
                let m = std::fs::metadata(p).ok()?;
                Some((m.modified().ok()?, m.len()))
            })
            .collect()
    }

    /// Read the files and build the configuration.
    pub(crate) fn build(&self) -> Result<Arc<ClientConfig>, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS setup failed: {e}"))?;
        let builder = if !self.verify {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCertificate::new(&provider)))
        } else if let Some(cafile) = &self.cafile {
            builder.with_root_certificates(roots(cafile)?)
        } else {
            builder.with_root_certificates(RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            })
        };
        let config = match &self.client {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => {
                let chain = certificates(cert, "clientcert")?;
                let key = PrivateKeyDer::from_pem_file(key)
                    .map_err(|e| file_error("clientkey", key, &e))?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| format!("TLS setup failed: clientcert/clientkey: {e}"))?
            }
        };
        Ok(Arc::new(config))
    }
}

/// The configuration for `files`, from the cache when its files did not
/// change.
pub(crate) fn config(files: Files) -> Result<Arc<ClientConfig>, String> {
    config_at(files, Instant::now())
}

fn config_at(files: Files, now: Instant) -> Result<Arc<ClientConfig>, String> {
    struct Entry {
        config: Result<Arc<ClientConfig>, String>,
        stamps: Vec<Option<(SystemTime, u64)>>,
        checked: Instant,
    }
    static CACHE: OnceLock<Mutex<HashMap<Files, Entry>>> = OnceLock::new();
    let mut cache = CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(e) = cache.get_mut(&files) {
        if now.saturating_duration_since(e.checked) < REFRESH {
            return e.config.clone();
        }
        e.checked = now;
        let stamps = files.stamps();
        if stamps == e.stamps {
            return e.config.clone();
        }
    }
    let stamps = files.stamps();
    let config = files.build();
    cache.insert(
        files,
        Entry {
            config: config.clone(),
            stamps,
            checked: now,
        },
    );
    config
}

fn roots(cafile: &Path) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(certificates(cafile, "cafile")?);
    if added == 0 {
        return Err(format!(
            "TLS setup failed: cafile {}: no usable CA certificate in it",
            cafile.display()
        ));
    }
    Ok(roots)
}

/// Every certificate of a PEM file; at least one.
fn certificates(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| file_error(what, path, &e))?;
    if certs.is_empty() {
        return Err(file_error(what, path, &pem::Error::NoItemsFound));
    }
    Ok(certs)
}

/// `TLS setup failed: cafile /x.pem: No such file or directory`.
fn file_error(what: &str, path: &Path, e: &pem::Error) -> String {
    let detail = match e {
        pem::Error::Io(io) => io.to_string(),
        pem::Error::NoItemsFound => match what {
            "clientkey" => "no private key in it".to_string(),
            _ => "no certificate in it".to_string(),
        },
        e => format!("not PEM: {e}"),
    };
    format!("TLS setup failed: {what} {}: {detail}", path.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn missing_and_empty_files_are_reasons() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.pem");
        let f = Files::new(true, Some(&missing), None);
        assert_eq!(
            f.build().unwrap_err(),
            format!(
                "TLS setup failed: cafile {}: No such file or directory (os error 2)",
                missing.display()
            )
        );
        let empty = write(dir.path(), "empty.pem", "nothing here\n");
        let f = Files::new(true, Some(&empty), None);
        assert!(
            f.build()
                .unwrap_err()
                .ends_with("empty.pem: no certificate in it"),
            "{:?}",
            f.build()
        );
        let ck = rcgen::generate_simple_self_signed(vec!["c.test".into()]).unwrap();
        let cert = write(dir.path(), "c.pem", &ck.cert.pem());
        let f = Files::new(false, None, Some(&(cert.clone(), empty.clone())));
        assert!(
            f.build()
                .unwrap_err()
                .ends_with("empty.pem: no private key in it"),
            "{:?}",
            f.build()
        );
        let key = write(dir.path(), "k.pem", &ck.signing_key.serialize_pem());
        assert!(Files::new(false, None, Some(&(cert.clone(), key)))
            .build()
            .is_ok());
        assert!(Files::new(true, Some(&cert), None).build().is_ok());
    }

    #[test]
    fn cafile_only_matters_when_verifying() {
        let f = Files::new(false, Some(Path::new("/nonexistent")), None);
        assert_eq!(f.cafile, None);
        assert!(f.build().is_ok());
    }

    #[test]
    fn changed_files_are_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "ca.pem", "not yet\n");
        let f = Files::new(true, Some(&p), None);
        let t0 = Instant::now();
        assert!(config_at(f.clone(), t0).is_err());
        // Within REFRESH the kept answer stands, whatever the file holds.
        let ck = rcgen::generate_simple_self_signed(vec!["c.test".into()]).unwrap();
        std::fs::write(&p, ck.cert.pem()).unwrap();
        assert!(config_at(f.clone(), t0 + Duration::from_secs(1)).is_err());
        // Then the change is seen, and the new answer kept.
        let later = t0 + REFRESH + Duration::from_secs(1);
        let a = config_at(f.clone(), later).unwrap();
        let b = config_at(f.clone(), later + REFRESH + REFRESH).unwrap();
        assert!(Arc::ptr_eq(&a, &b), "unchanged files are not read again");
    }
}
