//! `Probe::Http` redirects and `httpstatus` against a loopback server that
//! answers by path: redirects are followed as LWP follows them in
//! ldirectord (at most 7, the verdict on the last answer), but only while
//! they stay on the real; a status `httpstatus` lists is a final answer.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ldirectord_checks::{run, HttpProbe, Outcome, Probe, StatusCodes};
use regex::bytes::Regex;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

const T: Duration = Duration::from_secs(3);

/// A server answering each path with its entry of `routes` (status line,
/// extra headers where `{addr}` is the server's address, body), 404
/// otherwise; keeps every request head.
async fn router(routes: &[(&str, &str, &str, &str)]) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let routes: Vec<(String, String)> = routes
        .iter()
        .map(|(path, status, headers, body)| {
            (
                path.to_string(),
                format!(
                    "HTTP/1.1 {status}\r\n{}Content-Length: {}\r\n\r\n{body}",
                    headers.replace("{addr}", &addr.to_string()),
                    body.len()
                ),
            )
        })
        .collect();
    let heads = Arc::new(Mutex::new(Vec::new()));
    let seen = heads.clone();
    tokio::spawn(async move {
        for _ in 0..common::MAX_CONNS {
            let Ok((mut s, _)) = listener.accept().await else {
                break;
            };
            let head = common::read_head(&mut s).await;
            let path = head.split(' ').nth(1).unwrap_or("").to_string();
            seen.lock().unwrap().push(head);
            let reply = routes.iter().find(|(p, _)| *p == path).map_or_else(
                || "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_string(),
                |(_, r)| r.clone(),
            );
            let _ = s.write_all(reply.as_bytes()).await;
            let _ = s.shutdown().await;
        }
    });
    (addr, heads)
}

fn probe(path: &str, host: Option<&str>, receive: Option<&str>, status: Option<&str>) -> Probe {
    Probe::Http(HttpProbe {
        path: path.to_string(),
        host: host.map(str::to_string),
        receive: receive.map(|r| Regex::new(r).unwrap().into()),
        status: status.map_or_else(StatusCodes::default, |s| StatusCodes::parse(s).unwrap()),
        ..HttpProbe::default()
    })
}

fn verdict(o: &Outcome) -> (bool, &str) {
    (o.up, o.reason.as_str())
}

/// The request lines seen, in order.
fn lines(heads: &Mutex<Vec<String>>) -> Vec<String> {
    heads
        .lock()
        .unwrap()
        .iter()
        .map(|h| h.lines().next().unwrap_or("").to_string())
        .collect()
}

fn hosts(heads: &Mutex<Vec<String>>) -> Vec<String> {
    heads
        .lock()
        .unwrap()
        .iter()
        .filter_map(|h| {
            h.lines()
                .find_map(|l| l.strip_prefix("Host: ").map(str::to_string))
        })
        .collect()
}

#[tokio::test]
async fn relative_redirects_are_followed_to_the_final_answer() {
    let (addr, heads) = router(&[
        ("/a/start", "301 Moved", "Location: next\r\n", ""),
        ("/a/next", "302 Found", "Location: /c?x=1\r\n", ""),
        ("/c?x=1", "200 OK", "", "all rs here"),
    ])
    .await;
    let o = run(
        &probe("/a/start", Some("www.example.test"), Some("rs"), None),
        addr,
        T,
    )
    .await;
    assert_eq!(verdict(&o), (true, "HTTP 200 after 2 redirects"));
    assert_eq!(
        lines(&heads),
        [
            "GET /a/start HTTP/1.1",
            "GET /a/next HTTP/1.1",
            "GET /c?x=1 HTTP/1.1"
        ]
    );
    // The same virtual host is asked every time.
    assert_eq!(hosts(&heads), ["www.example.test"; 3]);
}

#[tokio::test]
async fn absolute_redirects_to_the_host_or_the_real_are_followed() {
    let (addr, heads) = router(&[
        (
            "/",
            "302 Found",
            "Location: http://WWW.example.test/two\r\n",
            "",
        ),
        (
            "/two",
            "307 Temporary",
            "Location: http://{addr}/three\r\n",
            "",
        ),
        (
            "/three",
            "308 Permanent",
            "Location: //www.example.test/four\r\n",
            "",
        ),
        ("/four", "303 See Other", "Location: /five#frag\r\n", ""),
        ("/five", "204 No Content", "", ""),
    ])
    .await;
    let o = run(&probe("/", Some("www.example.test"), None, None), addr, T).await;
    assert_eq!(verdict(&o), (true, "HTTP 204 after 4 redirects"));
    assert_eq!(
        lines(&heads),
        [
            "GET / HTTP/1.1",
            "GET /two HTTP/1.1",
            "GET /three HTTP/1.1",
            "GET /four HTTP/1.1",
            "GET /five HTTP/1.1"
        ]
    );
    assert_eq!(hosts(&heads), ["www.example.test"; 5]);
}

#[tokio::test]
async fn redirects_naming_the_real_address_are_followed() {
    let (addr, heads) = router(&[
        ("/", "302 Found", "Location: http://{addr}/ok\r\n", ""),
        ("/ok", "200 OK", "", "fine"),
        (
            "/port",
            "302 Found",
            "Location: http://127.0.0.1:9/ok\r\n",
            "",
        ),
        ("/nolocation", "302 Found", "", ""),
    ])
    .await;
    // No virtualhost: the Host header is the address, and stays so.
    let o = run(&probe("/", None, Some("fine"), None), addr, T).await;
    assert_eq!(verdict(&o), (true, "HTTP 200 after 1 redirect"));
    assert_eq!(hosts(&heads), [addr.to_string(), addr.to_string()]);
    // The same address on another port is another service.
    let o = run(&probe("/port", None, None, None), addr, T).await;
    assert_eq!(
        verdict(&o),
        (
            false,
            r#"HTTP 302: redirect to "http://127.0.0.1:9/ok" not followed (not this real: another host, port or scheme)"#
        )
    );
    // A 302 without a Location is the final answer.
    let o = run(&probe("/nolocation", None, None, None), addr, T).await;
    assert_eq!(verdict(&o), (false, "HTTP 302"));
    assert_eq!(
        lines(&heads),
        [
            "GET / HTTP/1.1",
            "GET /ok HTTP/1.1",
            "GET /port HTTP/1.1",
            "GET /nolocation HTTP/1.1"
        ]
    );
}

#[tokio::test]
async fn redirects_elsewhere_are_not_followed() {
    let (addr, heads) = router(&[
        (
            "/other",
            "302 Found",
            "Location: http://elsewhere.example/\r\n",
            "",
        ),
        (
            "/secure",
            "301 Moved",
            "Location: https://www.example.test/\r\n",
            "",
        ),
        (
            "/ftp",
            "301 Moved",
            "Location: ftp://www.example.test/\r\n",
            "",
        ),
    ])
    .await;
    let p = |path: &str, status: Option<&str>| probe(path, Some("www.example.test"), None, status);
    let o = run(&p("/other", None), addr, T).await;
    assert_eq!(
        verdict(&o),
        (
            false,
            r#"HTTP 302: redirect to "http://elsewhere.example/" not followed (not this real: another host, port or scheme)"#
        )
    );
    let o = run(&p("/secure", None), addr, T).await;
    assert_eq!(
        verdict(&o),
        (
            false,
            r#"HTTP 301: redirect to "https://www.example.test/" not followed (not this real: another host, port or scheme)"#
        )
    );
    let o = run(&p("/ftp", None), addr, T).await;
    assert_eq!(
        verdict(&o),
        (
            false,
            r#"HTTP 301: redirect not followed: not an absolute http:// URL: "ftp://www.example.test/""#
        )
    );
    // Accepting the redirect itself: up on it, nothing followed.
    let o = run(&p("/secure", Some("200-299,301")), addr, T).await;
    assert_eq!(verdict(&o), (true, "HTTP 301"));
    assert_eq!(lines(&heads).len(), 4, "only the first requests were made");
}

#[tokio::test]
async fn head_stays_head_and_receive_is_matched_on_the_last_body() {
    let (addr, heads) = router(&[
        (
            "/",
            "302 Found",
            "Location: /final\r\n",
            "rs in the redirect",
        ),
        ("/final", "200 OK", "", "nothing"),
    ])
    .await;
    let o = run(&probe("/", None, Some("rs"), None), addr, T).await;
    assert_eq!(
        verdict(&o),
        (false, r#"body did not match "rs" after 1 redirect"#)
    );
    let head = Probe::Http(HttpProbe {
        head: true,
        ..HttpProbe::default()
    });
    let o = run(&head, addr, T).await;
    assert_eq!(verdict(&o), (true, "HTTP 200 after 1 redirect"));
    let l = lines(&heads);
    assert_eq!(&l[2..], ["HEAD / HTTP/1.1", "HEAD /final HTTP/1.1"]);
}

#[tokio::test]
async fn httpstatus_sets_the_accepted_final_statuses() {
    let (addr, _) = router(&[
        ("/ok", "200 OK", "", "rs"),
        ("/gone", "410 Gone", "", "rs"),
        ("/moved", "302 Found", "Location: /ok\r\n", ""),
    ])
    .await;
    let check = |path: &'static str, status: Option<&'static str>| async move {
        let o = run(&probe(path, None, None, status), addr, T).await;
        (o.up, o.reason)
    };
    assert_eq!(check("/gone", None).await, (false, "HTTP 410".into()));
    assert_eq!(
        check("/gone", Some("200-299,410")).await,
        (true, "HTTP 410".into())
    );
    assert_eq!(
        check("/missing", Some("404")).await,
        (true, "HTTP 404".into())
    );
    assert_eq!(
        check("/ok", Some("500-599")).await,
        (false, "HTTP 200".into())
    );
    // A listed redirect is the answer; an unlisted one is followed.
    assert_eq!(
        check("/moved", Some("302")).await,
        (true, "HTTP 302".into())
    );
    assert_eq!(
        check("/moved", Some("200")).await,
        (true, "HTTP 200 after 1 redirect".into())
    );
    // With receive, the accepted non-2xx body is matched too.
    let o = run(&probe("/gone", None, Some("rs"), Some("410")), addr, T).await;
    assert_eq!(verdict(&o), (true, "HTTP 410"));
}
