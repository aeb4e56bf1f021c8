//! Where requests go: host, port and TLS from the URI, and the request bytes. The request
//! line and the headers every request carries are written once per client; a request adds
//! `accept`, `content-length` and its body.

use std::sync::Arc;

use http::HeaderMap;

/// Where requests go and how to connect there.
pub(crate) struct Target {
    /// `https`: TLS, with the server's name checked against the Mozilla roots.
    pub tls: bool,
    /// Host for DNS and TLS (IPv6 without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Request line and the headers every request carries, up to (not including) `Accept`
    /// and `Content-Length`. Holds the API key if there is one: never printed.
    head: Vec<u8>,
}

impl Target {
    /// The target of `uri` (`http` or `https` with a host: see `client::chat_uri`), sending
    /// `headers` with every request, each a `POST`.
    pub fn new(uri: &http::Uri, headers: &HeaderMap) -> Option<Target> {
        Target::with_method("POST", uri, headers)
    }

    /// The same with another method (`GET` for a metrics page; its body is empty).
    pub fn with_method(method: &str, uri: &http::Uri, headers: &HeaderMap) -> Option<Target> {
        let tls = match uri.scheme_str()? {
            "https" => true,
            "http" => false,
            _ => return None,
        };
        let authority = uri.authority()?;
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = authority.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let mut head = Vec::with_capacity(256);
        head.extend_from_slice(method.as_bytes());
        head.push(b' ');
        head.extend_from_slice(path.as_bytes());
        head.extend_from_slice(b" HTTP/1.1\r\nhost: ");
        head.extend_from_slice(authority.as_str().as_bytes());
        head.extend_from_slice(b"\r\n");
        for (name, value) in headers {
            head.extend_from_slice(name.as_str().as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(value.as_bytes());
            head.extend_from_slice(b"\r\n");
        }
        Some(Target {
            tls,
            host,
            port,
            head,
        })
    }

    /// The whole request: head, `accept`, `content-length`, body.
    pub fn request(&self, accept: &str, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.head.len() + 64 + body.len());
        out.extend_from_slice(&self.head);
        out.extend_from_slice(b"accept: ");
        out.extend_from_slice(accept.as_bytes());
        out.extend_from_slice(b"\r\ncontent-length: ");
        out.extend_from_slice(itoa::Buffer::new().format(body.len()).as_bytes());
        out.extend_from_slice(b"\r\n\r\n");
        out.extend_from_slice(body);
        out
    }
}

/// The TLS settings of a client that trusts `roots`: ring's algorithms, TLS 1.2 and 1.3,
/// ALPN `http/1.1` (the only protocol spoken here).
pub(crate) fn tls_config(
    roots: rustls::RootCertStore,
) -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
    let mut tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(tls))
}
