//! `Probe::HttpProxy` through a real Squid (Debian's squid), started here
//! on a free loopback port with a minimal configuration in a temporary
//! directory, to a small origin server of the test's own; and against a
//! listener that never answers.

mod common;
mod servers;

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ldirectord_checks::{run, HttpProxyProbe, Outcome, Probe};
use regex::bytes::Regex;
use servers::{free_port, have, local, Proc};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

const T: Duration = Duration::from_secs(5);

fn probe(url: &str, head: bool, receive: Option<&str>) -> Probe {
    Probe::HttpProxy(HttpProxyProbe::from_ldirectord(
        url,
        head,
        receive.map(|r| Regex::new(r).unwrap().into()),
    ))
}

fn verdict(o: &Outcome) -> (bool, &str) {
    (o.up, o.reason.as_str())
}

/// The origin: `/health` 200 `proxy ok`, `/old` a redirect to it, `/loop`
/// a redirect to itself, anything else 503. Keeps every request head.
async fn origin() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let heads = Arc::new(Mutex::new(Vec::new()));
    let seen = heads.clone();
    tokio::spawn(async move {
        for _ in 0..64 {
            let Ok((mut s, _)) = listener.accept().await else {
                break;
            };
            let seen = seen.clone();
            tokio::spawn(async move {
                let head = common::read_head(&mut s).await;
                let path = head.split(' ').nth(1).unwrap_or("").to_string();
                seen.lock().unwrap().push(head);
                let reply = match path.as_str() {
                    "/health" => "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nproxy ok".to_string(),
                    "/old" => {
                        "HTTP/1.1 302 Found\r\nLocation: /health\r\nContent-Length: 0\r\n\r\n"
                            .to_string()
                    }
                    "/loop" => "HTTP/1.1 302 Found\r\nLocation: /loop\r\nContent-Length: 0\r\n\r\n"
                        .to_string(),
                    _ => "HTTP/1.1 503 Unavailable\r\nContent-Length: 0\r\n\r\n".to_string(),
                };
                let _ = s.write_all(reply.as_bytes()).await;
                let _ = s.shutdown().await;
            });
        }
    });
    (port, heads)
}

#[tokio::test]
async fn real_squid() {
    if !have("/usr/sbin/squid", "squid") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Squid drops to its own user (proxy) for its logs.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o777)).unwrap();
    let port = free_port();
    let conf = d.join("squid.conf");
    std::fs::write(
        &conf,
        format!(
            "http_port 127.0.0.1:{port}
pid_filename {dir}/squid.pid
cache deny all
cache_mem 8 MB
access_log none
cache_store_log none
cache_log {dir}/cache.log
coredump_dir {dir}
http_access allow localhost
http_access deny all
shutdown_lifetime 0 seconds
dns_nameservers 127.0.0.1
",
            dir = d.display()
        ),
    )
    .unwrap();
    let (origin_port, heads) = origin().await;
    let mut server = Proc::start(
        "squid",
        Command::new("/usr/sbin/squid")
            .arg("-N")
            .arg("-f")
            .arg(&conf),
        &d.join("squid.log"),
    );
    server.wait_ready(Duration::from_secs(30), || servers::listening(port));
    let addr = local(port);
    let url = |path: &str| format!("http://127.0.0.1:{origin_port}{path}");

    let o = run(&probe(&url("/health"), false, Some("proxy ok")), addr, T).await;
    assert_eq!(verdict(&o), (true, "HTTP 200"), "{o:?}");
    // It went through the proxy, in absolute form.
    let first = heads.lock().unwrap()[0].clone();
    assert!(first.starts_with("GET /health HTTP/1.1"), "{first}");
    assert!(first.to_ascii_lowercase().contains("\nvia: "), "{first}");
    // ldirectord's form of the setting: a leading '/'.
    let o = run(&probe(&format!("/{}", url("/health")), true, None), addr, T).await;
    assert_eq!(verdict(&o), (true, "HTTP 200"));

    // Redirects are followed through the proxy, as LWP does.
    let o = run(&probe(&url("/old"), false, Some("ok")), addr, T).await;
    assert_eq!(verdict(&o), (true, "HTTP 200 after 1 redirect"));
    let o = run(&probe(&url("/loop"), false, None), addr, T).await;
    assert_eq!(
        verdict(&o),
        (false, "HTTP 302 after 7 redirects (too many redirects)")
    );

    // Wrong results: the body, the origin's status, a dead origin.
    let o = run(&probe(&url("/health"), false, Some("nope")), addr, T).await;
    assert_eq!(verdict(&o), (false, r#"body did not match "nope""#));
    let o = run(&probe(&url("/other"), false, None), addr, T).await;
    assert_eq!(verdict(&o), (false, "HTTP 503"));
    let dead = common::closed_port().await;
    let o = run(&probe(&format!("http://{dead}/"), false, None), addr, T).await;
    assert_eq!(verdict(&o), (false, "HTTP 503"));
    let o = run(&probe("/index.html", false, None), addr, T).await;
    assert_eq!(
        verdict(&o),
        (false, r#"not an absolute http:// URL: "index.html""#)
    );

    // Proxy stopped: refused.
    server.stop();
    let o = run(&probe(&url("/health"), false, None), addr, T).await;
    assert_eq!(verdict(&o), (false, "connection refused"));
}

#[tokio::test]
async fn hung_proxy_times_out() {
    let addr = common::hung_server().await;
    let o = run(
        &probe("http://127.0.0.1:9/", false, None),
        addr,
        Duration::from_secs(1),
    )
    .await;
    assert_eq!(verdict(&o), (false, "timed out after 1s"));
}
