//! The HTTP side of the status: the listener behind `statusaddress=`
//! (`/status`, `/metrics`, `/healthz`) and the client of `ldirectord-rs
//! status`.

use super::{Page, StatusQuery};
use std::net::SocketAddr;
use tokio::sync::{mpsc, oneshot};

/// Serve `/status`, `/metrics` and `/healthz` on `addr`, asking the director
/// task through `tx` for each answer (5 s at most: a frozen director shows as
/// a 503).
pub async fn serve(listener: tokio::net::TcpListener, tx: mpsc::Sender<StatusQuery>) {
    use bytes::Bytes;
    use http_body_util::Full;
    use hyper::{Response, StatusCode};
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let tx = tx.clone();
        tokio::spawn(async move {
            let svc =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let tx = tx.clone();
                    async move {
                        let (page, ctype) = match req.uri().path() {
                            "/status" => (Some(Page::Status), "application/json"),
                            "/metrics" => (Some(Page::Metrics), "text/plain; version=0.0.4"),
                            "/healthz" => (Some(Page::Health), "text/plain"),
                            _ => (None, "text/plain"),
                        };
                        let resp = |code: StatusCode, body: String| {
                            Response::builder()
                                .status(code)
                                .header("content-type", ctype)
                                .body(Full::new(Bytes::from(body)))
                                .unwrap()
                        };
                        let Some(page) = page else {
                            return Ok::<_, std::convert::Infallible>(resp(
                                StatusCode::NOT_FOUND,
                                "try /status, /metrics or /healthz\n".into(),
                            ));
                        };
                        let (reply, rx) = oneshot::channel();
                        if tx.send(StatusQuery { page, reply }).await.is_err() {
                            return Ok(resp(
                                StatusCode::SERVICE_UNAVAILABLE,
                                "director stopped\n".into(),
                            ));
                        }
                        Ok(
                            match tokio::time::timeout(std::time::Duration::from_secs(5), rx).await
                            {
                                Ok(Ok(body)) => resp(StatusCode::OK, body),
                                _ => resp(
                                    StatusCode::SERVICE_UNAVAILABLE,
                                    "director did not answer within 5s\n".into(),
                                ),
                            },
                        )
                    }
                });
            let io = hyper_util::rt::TokioIo::new(stream);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, svc)
                .await;
        });
    }
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
