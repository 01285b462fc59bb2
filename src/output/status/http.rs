//! The HTTP side of the status: the answer to one request on the listener
//! behind `statusaddress=` (see [`super::listener`]), and the client of
//! `ldirectord-rs status`.

use super::limits::DIRECTOR_TIMEOUT;
use super::{Page, StatusQuery};
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{ALLOW, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use std::convert::Infallible;
use std::net::SocketAddr;
use tokio::sync::{mpsc, oneshot};

/// Answer one request: GET or HEAD of `/status`, `/metrics` or `/healthz`,
/// asked of the director task through `tx` ([`DIRECTOR_TIMEOUT`] at most: a
/// frozen director shows as a 503). Any other method: 405.
pub(super) async fn respond<B>(
    req: Request<B>,
    tx: mpsc::Sender<StatusQuery>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let reply = |code: StatusCode, ctype: &'static str, body: Bytes| {
        let mut r = Response::new(Full::new(body));
        *r.status_mut() = code;
        r.headers_mut()
            .insert(CONTENT_TYPE, hyper::header::HeaderValue::from_static(ctype));
        r
    };
    const TEXT: &str = "text/plain";
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = reply(
            StatusCode::METHOD_NOT_ALLOWED,
            TEXT,
            Bytes::from_static(b"only GET and HEAD\n"),
        );
        r.headers_mut()
            .insert(ALLOW, hyper::header::HeaderValue::from_static("GET, HEAD"));
        return Ok(r);
    }
    let (page, ctype) = match req.uri().path() {
        "/status" => (Page::Status, "application/json"),
        "/metrics" => (Page::Metrics, "text/plain; version=0.0.4"),
        "/healthz" => (Page::Health, TEXT),
        _ => {
            return Ok(reply(
                StatusCode::NOT_FOUND,
                TEXT,
                Bytes::from_static(b"try /status, /metrics or /healthz\n"),
            ))
        }
    };
    let (answer, rx) = oneshot::channel();
    let unavailable = |why: &'static str| {
        reply(
            StatusCode::SERVICE_UNAVAILABLE,
            TEXT,
            Bytes::from_static(why.as_bytes()),
        )
    };
    let asked = tokio::time::timeout(DIRECTOR_TIMEOUT, async {
        tx.send(StatusQuery {
            page,
            reply: answer,
        })
        .await
        .map_err(|_| "director stopped\n")?;
        rx.await.map_err(|_| "director could not render the page\n")
    })
    .await;
    Ok(match asked {
        Ok(Ok(body)) => reply(StatusCode::OK, ctype, body),
        Ok(Err(why)) => unavailable(why),
        Err(_) => unavailable("director did not answer within 5s\n"),
    })
}

/// Fetch `path` from a status server (for `ldirectord-rs status`).
pub async fn fetch(addr: SocketAddr, path: &str) -> Result<String, String> {
    use http_body_util::BodyExt;
    let work = async {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let req = hyper::Request::get(path)
            .header("host", addr.to_string())
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .map_err(|e| e.to_string())?;
        let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
        let code = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        let body = String::from_utf8_lossy(&body).to_string();
        if code.is_success() {
            Ok(body)
        } else {
            Err(format!(
                "{addr}{path}: HTTP {}: {}",
                code.as_u16(),
                body.trim()
            ))
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), work)
        .await
        .map_err(|_| format!("{addr}{path}: timed out after 10s"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A director stand-in: answers every query with the page's name.
    fn director() -> mpsc::Sender<StatusQuery> {
        let (tx, mut rx) = mpsc::channel::<StatusQuery>(4);
        tokio::spawn(async move {
            while let Some(q) = rx.recv().await {
                let _ = q.reply.send(Bytes::from(format!("{:?}", q.page)));
            }
        });
        tx
    }

    fn req(method: Method, path: &str) -> Request<()> {
        Request::builder()
            .method(method)
            .uri(path)
            .body(())
            .unwrap()
    }

    #[tokio::test]
    async fn get_and_head_only() {
        let tx = director();
        for m in [Method::POST, Method::PUT, Method::DELETE, Method::OPTIONS] {
            let r = respond(req(m.clone(), "/status"), tx.clone())
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED, "{m}");
            assert_eq!(r.headers()[ALLOW], "GET, HEAD");
        }
        let r = respond(req(Method::GET, "/metrics"), tx.clone())
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[CONTENT_TYPE], "text/plain; version=0.0.4");
        let r = respond(req(Method::HEAD, "/healthz"), tx.clone())
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let r = respond(req(Method::GET, "/nope"), tx).await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn a_stopped_director_is_a_503() {
        let (tx, rx) = mpsc::channel::<StatusQuery>(1);
        drop(rx);
        let r = respond(req(Method::GET, "/healthz"), tx).await.unwrap();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
