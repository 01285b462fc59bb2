//! The HTTP check options ldirectord lacks, all per virtual:
//!
//! - `httpstatus=200-299,302`: the final statuses that are up (http, https,
//!   http_proxy; default any 2xx). A redirect whose status is listed is the
//!   answer, not followed.
//! - `verifytls=yes|no`: verify the real's certificate (https; default no).
//! - `cafile=/path.pem`: the CAs to verify against (with `verifytls=yes`;
//!   default the system's bundle).
//! - `clientcert=/path.pem`, `clientkey=/path.key`: a client certificate
//!   for servers that require one (mutual TLS; both or neither).
//! - `sni=name`: the TLS server name sent and verified, instead of the
//!   virtualhost's.
//!
//! The files are read at load (and reload), so a missing or bad one is an
//! error naming its line rather than every real of the virtual going down.

use crate::config::types::{CheckService, HttpOptions};
use crate::config::Problems;
use ldirectord_checks::{StatusCodes, TlsOptions};
use std::path::PathBuf;

/// The directives, in the order of [`RawHttp::lines`].
pub const HTTP_OPTIONS: [&str; 6] = [
    "httpstatus",
    "verifytls",
    "cafile",
    "clientcert",
    "clientkey",
    "sni",
];

/// One virtual's options as written, with the line of each.
#[derive(Debug, Clone, Default)]
pub struct RawHttp {
    status: Option<StatusCodes>,
    verifytls: Option<bool>,
    cafile: Option<PathBuf>,
    clientcert: Option<PathBuf>,
    clientkey: Option<PathBuf>,
    sni: Option<String>,
    /// The line each directive was given on (0: not given).
    lines: [usize; 6],
}

/// An absolute path.
fn path(value: &str) -> Result<PathBuf, String> {
    let p = super::unquote(value);
    if p.starts_with('/') {
        Ok(PathBuf::from(p))
    } else {
        Err("an absolute path is required".into())
    }
}

impl RawHttp {
    /// Take `key=value` when `key` is one of [`HTTP_OPTIONS`] (`None`
    /// otherwise).
    pub fn apply(&mut self, key: &str, value: &str, line: usize) -> Option<Result<(), String>> {
        let i = HTTP_OPTIONS.iter().position(|k| *k == key)?;
        self.lines[i] = line;
        let r = match key {
            "httpstatus" => StatusCodes::parse(value).map(|s| self.status = Some(s)),
            "verifytls" => super::parse_bool(value).map(|b| self.verifytls = Some(b)),
            "cafile" => path(value).map(|p| self.cafile = Some(p)),
            "clientcert" => path(value).map(|p| self.clientcert = Some(p)),
            "clientkey" => path(value).map(|p| self.clientkey = Some(p)),
            _ => {
                let name = super::unquote(value);
                TlsOptions::check_server_name(name).map(|()| self.sni = Some(name.to_string()))
            }
        };
        Some(r.map_err(|e| crate::config::directives::bad(key, value, e)))
    }

    fn line(&self, key: &str) -> usize {
        HTTP_OPTIONS
            .iter()
            .position(|k| *k == key)
            .map_or(0, |i| self.lines[i])
    }

    /// The options of a virtual checking `service`, each problem recorded
    /// at its line: an option its service does not use, half a client
    /// certificate, a `cafile` without verification, a file that cannot be
    /// read.
    pub fn resolve(&self, service: CheckService, errs: &mut Problems) -> HttpOptions {
        let name = service.name();
        let https = name == "https";
        for (i, key) in HTTP_OPTIONS.iter().enumerate() {
            let uses = if *key == "httpstatus" {
                matches!(name, "http" | "https" | "http_proxy")
            } else {
                https
            };
            if self.lines[i] != 0 && !uses {
                let only = if *key == "httpstatus" {
                    "service=http, https or http_proxy"
                } else {
                    "service=https"
                };
                errs.push((
                    self.lines[i],
                    format!("{key} applies to {only} only (this virtual's service is {name})"),
                ));
            }
        }
        let verifytls = self.verifytls.unwrap_or(false);
        if self.cafile.is_some() && !verifytls {
            errs.push((
                self.line("cafile"),
                "cafile= is only used with verifytls=yes: add it, or remove cafile=".into(),
            ));
        }
        let clientcert = match (&self.clientcert, &self.clientkey) {
            (Some(c), Some(k)) => Some((c.clone(), k.clone())),
            (Some(_), None) => {
                errs.push((
                    self.line("clientcert"),
                    "clientcert= needs clientkey= (the certificate's private key, PEM)".into(),
                ));
                None
            }
            (None, Some(_)) => {
                errs.push((
                    self.line("clientkey"),
                    "clientkey= needs clientcert= (the client certificate, PEM)".into(),
                ));
                None
            }
            (None, None) => None,
        };
        let options = HttpOptions {
            status: self.status.clone().unwrap_or_default(),
            verifytls,
            cafile: self.cafile.clone(),
            clientcert,
            sni: self.sni.clone(),
        };
        if https && (options.cafile.is_some() || options.clientcert.is_some()) {
            if let Err(e) = options.tls_options().check_files(verifytls) {
                let e = e.strip_prefix("TLS setup failed: ").unwrap_or(&e);
                let key = ["cafile", "clientkey"]
                    .into_iter()
                    .find(|k| e.starts_with(k))
                    .unwrap_or("clientcert");
                errs.push((self.line(key), e.to_string()));
            }
        }
        options
    }
}

impl HttpOptions {
    /// The probe's TLS options.
    pub fn tls_options(&self) -> TlsOptions {
        TlsOptions {
            cafile: self.cafile.clone(),
            client_cert: self.clientcert.clone(),
            sni: self.sni.clone(),
        }
    }
}
