//! A minimal hyper server: the yardstick `scripts/bench-peers.sh` measures `mock-server` against.
//!
//! It reads each request's body in full (as the mock must, to parse it) and answers every
//! request with the same fixed JSON reply of a chosen size, on the same stack the mock uses
//! (tokio, hyper 1 http1, `TCP_NODELAY`), doing nothing else: no routing, no parsing, no
//! tokenizing, no statistics. The gap between it and the mock is the price of being a mock.
//!
//!   cargo run --release -p mock-server --example bare_hyper -- [reply_bytes=600] [port=0]
//!
//! Prints its base URL (`http://127.0.0.1:PORT/v1`) on the first line of stdout, like
//! `mock-server`, so the same scripts drive either.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

/// A reply of exactly `size` bytes that is still a valid chat completion's JSON shape (the
/// content string is padded).
fn reply(size: usize) -> Bytes {
    let head = r#"{"id":"chatcmpl-bare","object":"chat.completion","created":0,"model":"gpt-4.1","choices":[{"index":0,"message":{"role":"assistant","content":""#;
    let tail = r#""},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}"#;
    let pad = size.saturating_sub(head.len() + tail.len());
    let mut s = String::with_capacity(size);
    s.push_str(head);
    s.extend(std::iter::repeat_n('x', pad));
    s.push_str(tail);
    Bytes::from(s)
}

async fn handle(req: Request<Incoming>, body: Bytes) -> Result<Response<Full<Bytes>>, Infallible> {
    // Read the whole request body, as any real server must before answering.
    let _ = req.into_body().collect().await;
    let mut resp = Response::new(Full::new(body));
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let size: usize = match args.next() {
        Some(s) => s
            .parse()
            .map_err(|_| anyhow::anyhow!("reply size `{s}` is not a number of bytes"))?,
        None => 600,
    };
    let port: u16 = match args.next() {
        Some(s) => s
            .parse()
            .map_err(|_| anyhow::anyhow!("port `{s}` is not a port number"))?,
        None => 0,
    };
    let body = reply(size);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("http://{}/v1", listener.local_addr()?);
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of descriptors and the like: back off instead of spinning.
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let body = body.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| handle(req, body.clone()));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}
