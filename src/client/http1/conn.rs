//! One connection: a TCP or TLS stream and the bytes read from it but not used yet, read
//! into by the task that owns the exchange.

use std::io;
use std::task::{Context, Poll, Waker};

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

/// Free space kept in a connection's read buffer before each read.
pub(super) const READ_CHUNK: usize = 16 * 1024;

/// A TCP or TLS stream.
pub(super) enum Io {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl Io {
    fn tcp(&self) -> &TcpStream {
        match self {
            Io::Plain(s) => s,
            Io::Tls(s) => s.get_ref().0,
        }
    }

    async fn read_buf(&mut self, buf: &mut BytesMut) -> io::Result<usize> {
        match self {
            Io::Plain(s) => s.read_buf(buf).await,
            Io::Tls(s) => match s.read_buf(buf).await {
                // A server that closes without TLS's close_notify: the end of the bytes, which
                // the framing judges (a body that needed more is cut either way).
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
                other => other,
            },
        }
    }

    pub(super) async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Io::Plain(s) => s.write_all(bytes).await,
            Io::Tls(s) => {
                s.write_all(bytes).await?;
                // rustls buffers records until flushed.
                s.flush().await
            }
        }
    }
}

/// One connection and the bytes read from it but not used yet.
pub(super) struct Conn {
    pub(super) io: Io,
    pub(super) buf: BytesMut,
}

impl Conn {
    /// Reads more bytes; `Ok(0)` at the end of the stream.
    pub(super) async fn fill(&mut self) -> io::Result<usize> {
        if self.buf.capacity() - self.buf.len() < READ_CHUNK / 4 {
            self.buf.reserve(READ_CHUNK);
        }
        self.io.read_buf(&mut self.buf).await
    }

    /// False when the server has closed this idle connection or sent bytes nobody asked for.
    /// Never waits: it looks only at what the socket already holds.
    pub(super) fn still_open(&self) -> bool {
        let mut probe = [0u8; 1];
        let mut buf = ReadBuf::new(&mut probe);
        let mut cx = Context::from_waker(Waker::noop());
        match self.io.tcp().poll_peek(&mut cx, &mut buf) {
            Poll::Pending => true,
            Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => false,
            // Over TLS these may be records rustls reads in passing (a session ticket, say);
            // a close_notify among them shows up as the end of the next read.
            Poll::Ready(Ok(_)) => matches!(self.io, Io::Tls(_)),
        }
    }
}
