//! The HTTP check options ldirectord lacks: `httpstatus`, `verifytls`,
//! `cafile`, `clientcert`/`clientkey`, `sni`: parsed, checked against the
//! service and the files at load (errors with their lines), carried into
//! the probe, and through a YAML round trip.

use ldirectord_checks::{Probe, StatusCodes};
use ldirectord_rs::config::{cf, yaml, Config, ConfigErrors, HttpOptions};
use ldirectord_rs::core::plan::Plan;
use std::path::{Path, PathBuf};

fn cf_str(text: &str) -> Result<Config, ConfigErrors> {
    cf::parse(Path::new("t.cf"), text)
}

fn problems(e: &ConfigErrors) -> Vec<(usize, String)> {
    e.0.iter().map(|e| (e.line, e.message.clone())).collect()
}

/// A CA certificate, a client certificate and its key, written in `dir`.
fn files(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let ca = rcgen::generate_simple_self_signed(vec!["ca.test".into()]).unwrap();
    let client = rcgen::generate_simple_self_signed(vec!["client.test".into()]).unwrap();
    let w = |name: &str, text: String| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    (
        w("ca.pem", ca.cert.pem()),
        w("client.pem", client.cert.pem()),
        w("client.key", client.signing_key.serialize_pem()),
    )
}

fn http_probe(c: &Config) -> ldirectord_checks::HttpProbe {
    match Plan::new(c).spec(0, 0).probe().unwrap() {
        Probe::Http(h) => h,
        other => panic!("{other:?}"),
    }
}

#[test]
fn https_options_load_into_the_probe_and_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = files(dir.path());
    let text = format!(
        "virtual=127.0.0.1:443\n\treal=127.0.0.2:443 masq\n\tservice=https\n\tvirtualhost=www.example.test\n\
         \thttpstatus=200-299, 302\n\tverifytls=yes\n\tcafile={}\n\tclientcert=\"{}\"\n\tclientkey={}\n\tsni=backend.example.test\n",
        ca.display(),
        cert.display(),
        key.display()
    );
    let c = cf_str(&text).unwrap_or_else(|e| panic!("{e}"));
    let want = HttpOptions {
        status: StatusCodes::parse("200-299,302").unwrap(),
        verifytls: true,
        cafile: Some(ca.clone()),
        clientcert: Some((cert.clone(), key.clone())),
        sni: Some("backend.example.test".into()),
    };
    assert_eq!(c.virtuals[0].check.http, want);
    let h = http_probe(&c);
    assert!(h.tls && h.verify_tls);
    assert!(h.status.contains(302) && !h.status.contains(301));
    let t = h.tls_options.expect("TLS options");
    assert_eq!(t.cafile.as_deref(), Some(ca.as_path()));
    assert_eq!(t.client_cert, Some((cert, key)));
    assert_eq!(t.sni.as_deref(), Some("backend.example.test"));
    assert_eq!(h.host.as_deref(), Some("www.example.test"));

    let y = yaml::to_yaml(&c);
    for k in [
        "httpstatus: 200-299,302",
        "verifytls: true",
        "cafile: ",
        "clientcert: ",
        "clientkey: ",
        "sni: backend.example.test",
    ] {
        assert!(y.contains(k), "{k} missing from\n{y}");
    }
    let back = yaml::parse(Path::new("converted.yaml"), &y).unwrap_or_else(|e| panic!("{e}\n{y}"));
    assert_eq!(back, c);
}

#[test]
fn without_options_nothing_changes() {
    let c = cf_str("virtual=127.0.0.1:443\n\treal=127.0.0.2:443 masq\n\tservice=https\n").unwrap();
    assert_eq!(c.virtuals[0].check.http, HttpOptions::default());
    let h = http_probe(&c);
    assert!(!h.verify_tls);
    assert_eq!(h.status, StatusCodes::default());
    assert!(h.tls_options.is_none());
    assert!(!yaml::to_yaml(&c).contains("httpstatus"));
}

#[test]
fn httpstatus_and_verifytls_without_files() {
    let c = cf_str(
        "virtual=127.0.0.1:80\n\treal=127.0.0.2:80 masq\n\tservice=http\n\thttpstatus=200,404\n\
         virtual=127.0.0.1:443\n\treal=127.0.0.2:443 masq\n\tservice=https\n\tverifytls=yes\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let h = http_probe(&c);
    assert!(h.status.contains(404) && !h.status.contains(201));
    let p = Plan::new(&c);
    match p.spec(1, 0).probe().unwrap() {
        Probe::Http(h) => {
            assert!(h.verify_tls);
            // The system's CA bundle: no options to carry.
            assert!(h.tls_options.is_none());
        }
        other => panic!("{other:?}"),
    }
    // A check that does not negotiate ignores them.
    let c = cf_str("virtual=127.0.0.1:443\n\treal=127.0.0.2:443 masq\n\tservice=https\n\tchecktype=connect\n\tverifytls=yes\n").unwrap();
    assert_eq!(Plan::new(&c).spec(0, 0).http(), &HttpOptions::default());
}

#[test]
fn option_errors_name_their_lines() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, _) = files(dir.path());
    let missing = dir.path().join("missing.pem");
    let text = format!(
        "virtual=127.0.0.1:80\n\
         \treal=127.0.0.2:80 masq\n\
         \tservice=http\n\
         \tverifytls=yes\n\
         \tsni=a.test\n\
         virtual=127.0.0.1:443\n\
         \treal=127.0.0.2:443 masq\n\
         \tservice=https\n\
         \tcafile={ca}\n\
         \tclientcert={cert}\n\
         virtual=127.0.0.1:444\n\
         \treal=127.0.0.2:443 masq\n\
         \tservice=https\n\
         \thttpstatus=2xx\n\
         \tverifytls=maybe\n\
         \tcafile=relative.pem\n\
         \tsni=not a name\n\
         virtual=127.0.0.1:445\n\
         \treal=127.0.0.2:443 masq\n\
         \tservice=https\n\
         \tverifytls=yes\n\
         \tcafile={missing}\n\
         virtual=127.0.0.1:25\n\
         \treal=127.0.0.2:25 masq\n\
         \tservice=smtp\n\
         \thttpstatus=200\n",
        ca = ca.display(),
        cert = cert.display(),
        missing = missing.display(),
    );
    let e = cf_str(&text).unwrap_err();
    let got = problems(&e);
    let want: &[(usize, &str)] = &[
        (4, "verifytls applies to service=https only (this virtual's service is http)"),
        (5, "sni applies to service=https only"),
        (9, "cafile= is only used with verifytls=yes"),
        (10, "clientcert= needs clientkey="),
        (14, "invalid httpstatus \"2xx\": \"2xx\" is not a status code"),
        (15, "invalid verifytls \"maybe\": expected yes or no"),
        (16, "invalid cafile \"relative.pem\": an absolute path is required"),
        (17, "invalid sni \"not a name\": expected a DNS name or an IP address"),
        (22, "No such file or directory"),
        (26, "httpstatus applies to service=http, https or http_proxy only (this virtual's service is smtp)"),
    ];
    assert_eq!(got.len(), want.len(), "{e}");
    for ((gl, gm), (wl, wm)) in got.iter().zip(want) {
        assert!(
            gl == wl && gm.contains(wm),
            "want {wl}: {wm}\ngot {gl}: {gm}\nall:\n{e}"
        );
    }
    assert!(
        got[8]
            .1
            .starts_with(&format!("cafile {}", missing.display())),
        "{}",
        got[8].1
    );
}

#[test]
fn yaml_takes_the_same_options() {
    let c = yaml::parse(
        Path::new("t.yaml"),
        "virtuals:\n  - virtual: 127.0.0.1:443\n    service: https\n    httpstatus: 200-204\n    verifytls: yes\n    sni: 127.0.0.9\n    reals: [\"127.0.0.2:443 masq\"]\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let h = &c.virtuals[0].check.http;
    assert_eq!(h.status.to_string(), "200-204");
    assert!(h.verifytls);
    assert_eq!(h.sni.as_deref(), Some("127.0.0.9"));
    let e = yaml::parse(
        Path::new("t.yaml"),
        "virtuals:\n  - virtual: 127.0.0.1:443\n    service: https\n    clientkey: /k.pem\n    reals: [\"127.0.0.2:443 masq\"]\n",
    )
    .unwrap_err();
    assert_eq!(problems(&e).len(), 1, "{e}");
    assert_eq!(problems(&e)[0].0, 4, "{e}");
}
