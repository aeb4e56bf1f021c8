//! The transport against raw servers: request bytes, every framing, keep-alive and reuse,
//! broken replies, TLS, and head limits however the reads split a head.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{HeaderMap, HeaderValue};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

fn pool_for(addr: SocketAddr) -> Pool {
    pool_at(&format!("http://{addr}/v1/chat/completions"), None)
}

fn pool_at(url: &str, tls: Option<Arc<rustls::ClientConfig>>) -> Pool {
    let uri: http::Uri = url.parse().unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("x-extra", HeaderValue::from_static("1"));
    Pool::new(
        Target::new(&uri, &headers).unwrap(),
        tls,
        PoolConfig {
            connect_timeout: Duration::from_secs(5),
            max_idle: 8,
            idle_timeout: Duration::from_secs(60),
            tcp_keepalive: Duration::from_secs(15),
        },
    )
}

/// A server that answers each request with the next of `replies` (raw bytes), after reading
/// the request's head and body; returns its address and the requests it read.
async fn raw_server(replies: Vec<&'static [u8]>) -> (SocketAddr, Arc<Mutex<Vec<Vec<u8>>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let log = Arc::clone(&seen);
    tokio::spawn(async move {
        let replies = Arc::new(Mutex::new(VecDeque::from(replies)));
        while let Ok((mut s, _)) = listener.accept().await {
            let (replies, log) = (Arc::clone(&replies), Arc::clone(&log));
            tokio::spawn(async move {
                loop {
                    let mut req = Vec::new();
                    // Read a head and a Content-Length body.
                    let body_end = loop {
                        let mut b = [0u8; 4096];
                        let n = s.read(&mut b).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        req.extend_from_slice(&b[..n]);
                        if let Some(h) = memchr::memmem::find(&req, b"\r\n\r\n") {
                            let text = String::from_utf8_lossy(&req[..h]).to_lowercase();
                            let len = text
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length: "))
                                .and_then(|v| v.trim().parse::<usize>().ok())
                                .unwrap_or(0);
                            if req.len() >= h + 4 + len {
                                break h + 4 + len;
                            }
                        }
                    };
                    log.lock().unwrap().push(req[..body_end].to_vec());
                    let reply = replies.lock().unwrap().pop_front();
                    let Some(reply) = reply else { return };
                    if s.write_all(reply).await.is_err() {
                        return;
                    }
                    if reply
                        .windows(17)
                        .any(|w| w.eq_ignore_ascii_case(b"connection: close"))
                    {
                        return;
                    }
                }
            });
        }
    });
    (addr, seen)
}

async fn exchange(pool: &Pool, body: &[u8]) -> Result<(u16, Vec<u8>), String> {
    let req = pool.request_bytes("application/json", body);
    let resp = pool.send(&req).await.map_err(|e| format!("{e:?}"))?;
    let status = resp.status;
    let body = resp.body.collect().await.map_err(|e| e.0)?;
    Ok((status, body))
}

#[tokio::test]
async fn request_bytes_carry_the_head_the_headers_and_the_body() {
    let (addr, seen) = raw_server(vec![b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"]).await;
    let pool = pool_for(addr);
    assert_eq!(
        exchange(&pool, b"{\"a\":1}").await.unwrap(),
        (200, b"ok".to_vec())
    );
    let sent = String::from_utf8(seen.lock().unwrap()[0].clone()).unwrap();
    assert_eq!(
        sent,
        format!(
            "POST /v1/chat/completions HTTP/1.1\r\nhost: {addr}\r\nx-extra: 1\r\n\
             accept: application/json\r\ncontent-length: 7\r\n\r\n{{\"a\":1}}"
        )
    );
}

#[tokio::test]
async fn framings_chunked_length_until_close_and_interim_heads() {
    for (reply, status, want, reused) in [
        (
            &b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n1;ext=1\r\n!\r\n0\r\nx-trailer: t\r\n\r\n"[..],
            200,
            &b"hello!"[..],
            true,
        ),
        (
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabc",
            200,
            b"abc",
            true,
        ),
        // Chunked wins over a Content-Length (RFC 9112 6.3).
        (
            b"HTTP/1.1 200 OK\r\ncontent-length: 99\r\ntransfer-encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
            200,
            b"hi",
            true,
        ),
        (
            b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nuntil the end",
            200,
            b"until the end",
            false,
        ),
        (b"HTTP/1.1 204 No Content\r\n\r\n", 204, b"", true),
        (
            b"HTTP/1.0 200 OK\r\ncontent-length: 1\r\n\r\nx",
            200,
            b"x",
            false,
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: Close\r\n\r\nok",
            200,
            b"ok",
            false,
        ),
    ] {
        let (addr, _) = raw_server(vec![reply]).await;
        let pool = pool_for(addr);
        let (got, body) = exchange(&pool, b"{}").await.unwrap();
        assert_eq!((got, body.as_slice()), (status, want), "{reply:?}");
        assert_eq!(pool.idle_count(), usize::from(reused), "{reply:?}");
    }
}

#[tokio::test]
async fn keep_alive_reuses_one_connection_and_a_closed_one_is_not_reused() {
    let ok: &'static [u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
    let (addr, seen) = raw_server(vec![ok, ok, ok]).await;
    let pool = pool_for(addr);
    for _ in 0..3 {
        assert_eq!(exchange(&pool, b"{}").await.unwrap().1, b"ok");
    }
    assert_eq!(seen.lock().unwrap().len(), 3);
    assert_eq!(pool.idle_count(), 1, "one connection carried all three");

    // The server closes its side of an idle connection: the next request opens a new one
    // instead of failing on the dead one.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                let mut b = [0u8; 4096];
                let _ = s.read(&mut b).await;
                let _ = s.write_all(ok).await;
                // Then close, as a server whose keep-alive timeout passed.
            });
        }
    });
    let pool = pool_for(addr);
    assert_eq!(exchange(&pool, b"{}").await.unwrap().1, b"ok");
    assert_eq!(pool.idle_count(), 1);
    // Let the close arrive and the runtime see it.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(exchange(&pool, b"{}").await.unwrap().1, b"ok");
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 2);
}

#[tokio::test]
async fn broken_replies_are_named() {
    for (reply, want) in [
        (&b""[..], "without a response"),
        (
            b"HTTP/1.1 200 OK\r\ncontent-le",
            "middle of the response head",
        ),
        (b"SSH-2.0-OpenSSH_9.6\r\n\r\n", "not an HTTP/1.1 response"),
        (
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nabc",
            "conflicting Content-Length",
        ),
        (
            b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort",
            "Content-Length",
        ),
        (
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhel",
            "inside a chunk",
        ),
        (
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
            "invalid chunk size",
        ),
        (
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nhello\r\n0\r\n\r\n",
            "longer than its size",
        ),
    ] {
        // The server answers and closes (every reply below is its last word).
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            if let Ok((mut s, _)) = listener.accept().await {
                let mut b = [0u8; 4096];
                let _ = s.read(&mut b).await;
                let _ = s.write_all(reply).await;
            }
        });
        let pool = pool_for(addr);
        let err = exchange(&pool, b"{}").await.unwrap_err();
        assert!(err.contains(want), "{reply:?}: {err}");
        assert_eq!(
            pool.idle_count(),
            0,
            "a broken exchange leaves no connection"
        );
    }
}

#[tokio::test]
async fn headers_are_kept_for_errors_only() {
    let (addr, _) = raw_server(vec![
        b"HTTP/1.1 429 Too Many Requests\r\nretry-after-ms: 250\r\ncontent-length: 2\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nx-request-id: r1\r\ncontent-length: 2\r\n\r\n{}",
    ])
    .await;
    let pool = pool_for(addr);
    let req = pool.request_bytes("application/json", b"{}");
    let resp = pool.send(&req).await.unwrap();
    assert_eq!(resp.status, 429);
    assert_eq!(resp.headers.get("retry-after-ms").unwrap(), "250");
    assert_eq!(resp.body.collect().await.unwrap(), b"{}");
    let resp = pool.send(&req).await.unwrap();
    assert_eq!(resp.status, 200);
    assert!(resp.headers.is_empty());
}

#[tokio::test]
async fn streamed_pieces_arrive_as_they_are_sent_and_done_keeps_a_finished_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (go_tx, mut go_rx) = tokio::sync::mpsc::channel::<&'static [u8]>(4);
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut b = [0u8; 4096];
        let _ = s.read(&mut b).await;
        while let Some(bytes) = go_rx.recv().await {
            s.write_all(bytes).await.unwrap();
        }
        // Keep the connection open: the client must not wait for a close.
        tokio::time::sleep(Duration::from_secs(30)).await;
    });
    let pool = pool_for(addr);
    let req = pool.request_bytes("text/event-stream", b"{}");
    go_tx
        .send(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n6\r\ndata: \r\n")
        .await
        .unwrap();
    let mut resp = pool.send(&req).await.unwrap();
    assert_eq!(resp.body.next().await.unwrap().unwrap(), b"data: ");
    go_tx.send(b"4\r\n1234\r\n").await.unwrap();
    assert_eq!(resp.body.next().await.unwrap().unwrap(), b"1234");
    // The last chunk and the terminator arrive together; the reader stops on its own
    // signal and leaves the rest to `finish_buffered`.
    go_tx.send(b"2\r\n!!\r\n0\r\n\r\n").await.unwrap();
    assert_eq!(resp.body.next().await.unwrap().unwrap(), b"!!");
    resp.body.finish_buffered();
    assert_eq!(
        pool.idle_count(),
        1,
        "the ended body gave its connection back"
    );
}

#[tokio::test]
async fn an_unfinished_body_closes_its_connection() {
    let (addr, _) = raw_server(vec![b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nab"]).await;
    let pool = pool_for(addr);
    let req = pool.request_bytes("application/json", b"{}");
    let mut resp = pool.send(&req).await.unwrap();
    assert_eq!(resp.body.next().await.unwrap().unwrap(), b"ab");
    resp.body.finish_buffered();
    assert_eq!(pool.idle_count(), 0);
}

/// A TLS server with the self-signed `localhost` certificate in `tests/data/tls`, answering
/// every request on a connection with `ok`; returns its port and the connections accepted.
async fn tls_server() -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let cert = CertificateDer::from_pem_slice(include_bytes!(
        "../../../tests/data/tls/localhost.cert.pem"
    ))
    .unwrap();
    let key =
        PrivateKeyDer::from_pem_slice(include_bytes!("../../../tests/data/tls/localhost.key.pem"))
            .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert], key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut s) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut req = Vec::new();
                let mut b = [0u8; 4096];
                loop {
                    let n = s.read(&mut b).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    req.extend_from_slice(&b[..n]);
                    // Each request here is a head and a two-byte body.
                    while let Some(h) = memchr::memmem::find(&req, b"\r\n\r\n") {
                        if req.len() < h + 6 {
                            break;
                        }
                        req.drain(..h + 6);
                        let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                        if s.write_all(reply).await.is_err() || s.flush().await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    (port, accepted)
}

#[tokio::test]
async fn https_exchanges_reuse_one_tls_connection() {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let (port, accepted) = tls_server().await;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(
            CertificateDer::from_pem_slice(include_bytes!(
                "../../../tests/data/tls/localhost.cert.pem"
            ))
            .unwrap(),
        )
        .unwrap();
    let pool = pool_at(
        &format!("https://localhost:{port}/v1/chat/completions"),
        Some(tls_config(roots).unwrap()),
    );
    for _ in 0..3 {
        assert_eq!(exchange(&pool, b"{}").await.unwrap(), (200, b"ok".to_vec()));
    }
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(pool.idle_count(), 1);
}

/// The roots the client ships with (Mozilla's) do not trust a self-signed certificate: the
/// handshake fails, and says why.
#[tokio::test]
async fn an_untrusted_certificate_fails_the_handshake() {
    let (port, _) = tls_server().await;
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let pool = pool_at(
        &format!("https://localhost:{port}/v1/chat/completions"),
        Some(tls_config(roots).unwrap()),
    );
    let err = exchange(&pool, b"{}").await.unwrap_err();
    assert!(
        err.contains("TLS handshake with localhost failed") && err.contains("certificate"),
        "{err}"
    );
}

/// Reads `head` as the transport does when the network delivers it in two reads cut at
/// `cut`: the verdict of the first read (if it is one), else of both.
fn verdict(head: &[u8], cut: usize) -> Result<Option<u16>, String> {
    for prefix in [&head[..cut], head] {
        match parse_head_bounded(prefix) {
            Ok(Some(p)) => return Ok(p.status()),
            Ok(None) => continue,
            Err(e) => return Err(format!("{e:?}")),
        }
    }
    Ok(None)
}

/// Issue 15.4: a 100 KB header was accepted or refused depending on how reads split the
/// head. The limits apply to the head's total size and header count, wherever it is cut.
#[test]
fn head_limits_do_not_depend_on_how_reads_split_the_head() {
    let head_with = |value_len: usize, headers: usize| {
        let mut h = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..headers {
            h.extend_from_slice(format!("x-h{i}: v\r\n").as_bytes());
        }
        h.extend_from_slice(b"x-big: ");
        h.extend(std::iter::repeat_n(b'a', value_len));
        h.extend_from_slice(b"\r\ncontent-length: 2\r\n\r\nok");
        h
    };
    for (what, head, accepted) in [
        ("a 100 KB header", head_with(100 * 1024, 0), false),
        (
            "a head just over the limit",
            head_with(MAX_HEAD_BYTES, 0),
            false,
        ),
        ("a 60 KB header", head_with(60 * 1024, 0), true),
        ("126 headers", head_with(1, MAX_HEADERS - 2), true),
        ("too many headers", head_with(1, MAX_HEADERS), false),
    ] {
        let whole = verdict(&head, head.len());
        assert_eq!(whole.is_ok(), accepted, "{what}: {whole:?}");
        let step = (head.len() / 97).max(1);
        for cut in (0..head.len())
            .step_by(step)
            .chain([MAX_HEAD_BYTES, MAX_HEAD_BYTES + 1])
        {
            let cut = cut.min(head.len());
            assert_eq!(
                verdict(&head, cut).is_ok(),
                accepted,
                "{what}, cut at {cut}"
            );
        }
    }
}

/// The same through a real socket: the head arrives in two writes, cut inside the big
/// header or after the first 64 KiB, and is refused either way.
#[tokio::test]
async fn a_100_kb_header_is_refused_however_it_arrives() {
    let mut head = b"HTTP/1.1 200 OK\r\nx-big: ".to_vec();
    head.extend(std::iter::repeat_n(b'a', 100 * 1024));
    head.extend_from_slice(b"\r\ncontent-length: 2\r\n\r\nok");
    let head: &'static [u8] = head.leak();
    for cut in [10, 30 * 1024, MAX_HEAD_BYTES + 5, head.len()] {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            if let Ok((mut s, _)) = listener.accept().await {
                let mut b = [0u8; 4096];
                let _ = s.read(&mut b).await;
                let _ = s.write_all(&head[..cut]).await;
                tokio::time::sleep(Duration::from_millis(20)).await;
                let _ = s.write_all(&head[cut..]).await;
            }
        });
        let err = exchange(&pool_for(addr), b"{}").await.unwrap_err();
        assert!(err.contains("longer than"), "cut at {cut}: {err}");
    }
}

/// Issue 15.2: `finish_buffered` kept its own copy of the chunk parsing, which computed
/// `size + 2` and overflowed (a panic in a debug build) on a chunk size of sixteen `f`s
/// buffered after the piece a stream stopped at. It now takes the same steps as `next`.
#[tokio::test]
async fn a_huge_chunk_size_buffered_after_the_last_piece_read_is_no_panic() {
    let (addr, _) = raw_server(vec![
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\nffffffffffffffff\r\nxyz",
    ])
    .await;
    let pool = pool_for(addr);
    let req = pool.request_bytes("text/event-stream", b"{}");
    let mut resp = pool.send(&req).await.unwrap();
    assert_eq!(resp.body.next().await.unwrap().unwrap(), b"abc");
    resp.body.finish_buffered();
    assert_eq!(
        pool.idle_count(),
        0,
        "an unfinished body closes its connection"
    );
}
