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

#[tokio::test]
async fn real_nginx_up_and_404() {
    let Some(bin) = nginx_binary() else {
        println!("SKIPPED: /usr/sbin/nginx not found (set NGINX=/path/to/nginx to run)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("www")).unwrap();
    std::fs::create_dir_all(d.join("tmp")).unwrap();
    std::fs::write(d.join("www/check.html"), "ldirectord-rs alive\n").unwrap();
    let addr = common::closed_port().await;
    let t = d.join("tmp").display().to_string();
    let conf = format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid {pid};\nerror_log {err};\n\
         events {{ worker_connections 64; }}\n\
         http {{\n access_log off;\n client_body_temp_path {t}/b;\n proxy_temp_path {t}/p;\n \
         fastcgi_temp_path {t}/f;\n uwsgi_temp_path {t}/u;\n scgi_temp_path {t}/s;\n \
         server {{ listen {addr}; root {root}; }}\n}}\n",
        pid = d.join("nginx.pid").display(),
        err = d.join("error.log").display(),
        root = d.join("www").display(),
    );
    std::fs::write(d.join("nginx.conf"), conf).unwrap();
    let mut child = tokio::process::Command::new(&bin)
        .arg("-p")
        .arg(d)
        .arg("-e")
        .arg(d.join("error.log"))
        .arg("-c")
        .arg(d.join("nginx.conf"))
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start nginx");

    // Wait (bounded) until it listens.
    let mut listening = false;
    for _ in 0..50 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            listening = true;
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "nginx exited early ({status}): {}",
                std::fs::read_to_string(d.join("error.log")).unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(listening, "nginx did not listen on {addr}");

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
    child.kill().await.ok();

    assert!(up.up, "{up:?}");
    assert_eq!(up.reason, "HTTP 200");
    assert!(!missing.up);
    assert_eq!(missing.reason, "HTTP 404");
    assert!(head.up, "{head:?}");
}
