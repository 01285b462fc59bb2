//! A real nginx, if installed (`/usr/sbin/nginx`, or the binary named by
//! `$NGINX`): serve a file on 127.0.0.1 and probe it.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use ldirectord_checks::{run, HttpProbe, Probe};
use regex::bytes::Regex;

fn nginx_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("NGINX") {
        return Some(PathBuf::from(p));
    }
    let p = PathBuf::from("/usr/sbin/nginx");
    p.exists().then_some(p)
}

/// A running nginx on a free loopback port, killed on drop.
struct Nginx {
    addr: std::net::SocketAddr,
    child: tokio::process::Child,
    dir: tempfile::TempDir,
}

impl Nginx {
    /// Start nginx serving `www/` (filled by `files`: path, content) with
    /// `extra` inside its `server` block; `None` when nginx is not installed.
    async fn start(files: &[(&str, &str)], extra: &str) -> Option<Nginx> {
        let Some(bin) = nginx_binary() else {
            println!("SKIPPED: /usr/sbin/nginx not found (set NGINX=/path/to/nginx to run)");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("www")).unwrap();
        std::fs::create_dir_all(d.join("tmp")).unwrap();
        for (path, content) in files {
            let p = d.join("www").join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, content).unwrap();
        }
        // A port found closed can be taken by another test's server before
        // nginx binds it: then nginx exits ("Address already in use") while
        // the other server answers. Ready means nginx wrote its pid file
        // (after binding) and the port answers; a port lost is tried anew.
        for _ in 0..5 {
            let addr = common::closed_port().await;
            let mut child = spawn(&bin, d, addr, extra);
            for _ in 0..50 {
                if let Ok(Some(status)) = child.try_wait() {
                    let err = std::fs::read_to_string(d.join("error.log")).unwrap_or_default();
                    assert!(
                        err.contains("Address already in use"),
                        "nginx exited early ({status}): {err}"
                    );
                    break;
                }
                if d.join("nginx.pid").exists()
                    && tokio::net::TcpStream::connect(addr).await.is_ok()
                {
                    return Some(Nginx { addr, child, dir });
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let _ = child.kill().await;
        }
        panic!("nginx did not listen");
    }
}

/// nginx in the foreground over `d`, listening on `addr`, `extra` in its
/// `server` block.
fn spawn(
    bin: &std::path::Path,
    d: &std::path::Path,
    addr: std::net::SocketAddr,
    extra: &str,
) -> tokio::process::Child {
    let _ = std::fs::remove_file(d.join("error.log"));
    let t = d.join("tmp").display().to_string();
    let conf = format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid {pid};\nerror_log {err};\n\
         events {{ worker_connections 64; }}\n\
         http {{\n access_log off;\n client_body_temp_path {t}/b;\n proxy_temp_path {t}/p;\n \
         fastcgi_temp_path {t}/f;\n uwsgi_temp_path {t}/u;\n scgi_temp_path {t}/s;\n \
         server {{ listen {addr}; root {root};\n{extra}\n }}\n}}\n",
        pid = d.join("nginx.pid").display(),
        err = d.join("error.log").display(),
        root = d.join("www").display(),
    );
    std::fs::write(d.join("nginx.conf"), conf).unwrap();
    tokio::process::Command::new(bin)
        .arg("-p")
        .arg(d)
        .arg("-e")
        .arg(d.join("error.log"))
        .arg("-c")
        .arg(d.join("nginx.conf"))
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start nginx")
}

#[tokio::test]
async fn real_nginx_up_and_404() {
    let Some(mut nginx) = Nginx::start(&[("check.html", "ldirectord-rs alive\n")], "").await else {
        return;
    };
    let addr = nginx.addr;
    let probe = |path: &str| {
        Probe::Http(HttpProbe {
            path: path.to_string(),
            host: Some("www.example.test".into()),
            receive: Some(Regex::new("alive").unwrap().into()),
            ..HttpProbe::default()
        })
    };
    let up = run(&probe("/check.html"), addr, Duration::from_secs(3)).await;
    let missing = run(&probe("/missing.html"), addr, Duration::from_secs(3)).await;
    let head = run(
        &Probe::Http(HttpProbe {
            head: true,
            path: "/check.html".into(),
            ..HttpProbe::default()
        }),
        addr,
        Duration::from_secs(3),
    )
    .await;
    nginx.child.kill().await.ok();
    drop(nginx.dir);

    assert!(up.up, "{up:?}");
    assert_eq!(up.reason, "HTTP 200");
    assert!(!missing.up);
    assert_eq!(missing.reason, "HTTP 404");
    assert!(head.up, "{head:?}");
}

/// nginx's own redirects: `return 301 /path` (absolute, naming the Host
/// header's host and nginx's port), relative ones, the trailing-slash
/// redirect of a directory, and redirects elsewhere.
const REDIRECTS: &str = "
  location = /old { return 301 /check.html; }
  location = /rel { absolute_redirect off; return 302 /check.html; }
  location = /away { return 302 http://elsewhere.example/; }
  location = /tohttps { return 301 https://$host$request_uri; }
  location = /loop { return 302 /loop; }
";

const FILES: &[(&str, &str)] = &[
    ("check.html", "ldirectord-rs alive\n"),
    ("dir/index.html", "directory index, alive\n"),
];

fn get(path: &str, host: Option<&str>) -> Probe {
    Probe::Http(HttpProbe {
        path: path.to_string(),
        host: host.map(str::to_string),
        receive: Some(Regex::new("alive").unwrap().into()),
        ..HttpProbe::default()
    })
}

#[tokio::test]
async fn real_nginx_redirects_are_followed_on_the_real() {
    let Some(mut nginx) = Nginx::start(FILES, REDIRECTS).await else {
        return;
    };
    let addr = nginx.addr;
    let t = Duration::from_secs(3);
    let verdict = |o: ldirectord_checks::Outcome| (o.up, o.reason);
    for host in [Some("www.example.test"), None] {
        // nginx names the Host header's host and its own port: this real.
        let o = run(&get("/old", host), addr, t).await;
        assert_eq!(
            verdict(o),
            (true, "HTTP 200 after 1 redirect".into()),
            "{host:?}"
        );
        let o = run(&get("/rel", host), addr, t).await;
        assert_eq!(
            verdict(o),
            (true, "HTTP 200 after 1 redirect".into()),
            "{host:?}"
        );
        let o = run(&get("/dir", host), addr, t).await;
        assert_eq!(
            verdict(o),
            (true, "HTTP 200 after 1 redirect".into()),
            "{host:?}"
        );
        let o = run(&get("/loop", host), addr, t).await;
        assert_eq!(
            verdict(o),
            (
                false,
                "HTTP 302 after 7 redirects (too many redirects)".into()
            )
        );
    }
    let host = Some("www.example.test");
    let o = run(&get("/away", host), addr, t).await;
    assert_eq!(
        verdict(o),
        (
            false,
            r#"HTTP 302: redirect to "http://elsewhere.example/" not followed (not this real: another host, port or scheme)"#
                .into()
        )
    );
    let o = run(&get("/tohttps", host), addr, t).await;
    assert_eq!(
        verdict(o),
        (
            false,
            r#"HTTP 301: redirect to "https://www.example.test/tohttps" not followed (not this real: another host, port or scheme)"#
                .into()
        )
    );
    // Accepting the redirect itself (httpstatus=200-299,301): up on it.
    let accept_301 = Probe::Http(HttpProbe {
        path: "/tohttps".into(),
        host: host.map(str::to_string),
        status: ldirectord_checks::StatusCodes::parse("200-299,301").unwrap(),
        ..HttpProbe::default()
    });
    let o = run(&accept_301, addr, t).await;
    assert_eq!(verdict(o), (true, "HTTP 301".into()));

    // ldirectord's own client on the same nginx, where its redirects stay
    // on the loopback real (no virtualhost: ldirectord's Host header is
    // then the bare address): the same verdicts, after the same number of
    // redirects.
    for path in ["/check.html", "/old", "/rel", "/dir", "/loop", "/missing"] {
        let Some((lwp_up, code, redirects)) = lwp(addr, path) else {
            println!("SKIPPED: perl with LWP::UserAgent not found (libwww-perl)");
            break;
        };
        let ours = run(&get(path, None), addr, t).await;
        assert_eq!(ours.up, lwp_up, "{path}: {ours:?}, LWP {code}");
        assert!(
            ours.reason.starts_with(&format!("HTTP {code}")),
            "{path}: {ours:?}"
        );
        let after = match redirects {
            0 => String::new(),
            1 => " after 1 redirect".into(),
            n => format!(" after {n} redirects"),
        };
        assert!(
            ours.reason.contains(&after),
            "{path}: {ours:?}, LWP {redirects}"
        );
    }
    nginx.child.kill().await.ok();
    drop(nginx.dir);
}

/// ldirectord's check_http (LWP::UserAgent, the Host header the real's
/// address) on `path`, matching `alive`: (up, final code, redirects).
fn lwp(addr: std::net::SocketAddr, path: &str) -> Option<(bool, u16, usize)> {
    const SCRIPT: &str = r#"
        use LWP::UserAgent;
        my ($url, $host) = @ARGV;
        my $ua = new LWP::UserAgent(ssl_opts => { verify_hostname => 0 });
        $ua->timeout(5);
        my $req = new HTTP::Request("GET", $url, new HTTP::Headers("Host" => $host));
        my $res = $ua->request($req);
        my $up = ($res->is_success && $res->content =~ /alive/) ? 1 : 0;
        print join(" ", $up, $res->code, scalar($res->redirects)), "\n";
    "#;
    let out = std::process::Command::new("perl")
        .arg("-e")
        .arg(SCRIPT)
        .arg(format!("http://{addr}{path}"))
        .arg(addr.ip().to_string())
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut f = text.split_whitespace();
    Some((
        f.next()? == "1",
        f.next()?.parse().ok()?,
        f.next()?.parse().ok()?,
    ))
}
