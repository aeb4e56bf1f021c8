//! One exchange on a pooled connection: [`Pool::send`] writes the request and reads the
//! response head; the [`Body`] is read from the connection as it arrives and hands the
//! connection back to the pool when read to its end (dropped half-way, it closes it).
//!
//! `send` is an `impl Pool` block here, not in `pool.rs`, because it builds the body, and the
//! body checks its connection back in: the exchange sits above the pool, and the pool knows
//! nothing of bodies.

use std::io;

use bytes::Buf;
use http::HeaderMap;

use super::conn::Conn;
use super::framing::{BodyError, Chunk, ChunkStep, Framing, chunk_step};
use super::head::{Failure, read_head};
use super::pool::Pool;

impl Pool {
    /// Sends `request` (from [`Pool::request_bytes`]) and reads the response head.
    pub async fn send(&self, request: &[u8]) -> Result<Response<'_>, Failure> {
        let mut conn = match self.checkout() {
            Some(c) => c,
            None => self.connect().await?,
        };
        conn.io
            .write_all(request)
            .await
            .map_err(|e| Failure::Closed(format!("cannot send the request: {e}")))?;
        let head = read_head(&mut conn).await?;
        Ok(Response {
            status: head.status,
            json: head.json,
            headers: head.headers,
            body: Body {
                conn: Some(conn),
                pool: self,
                framing: head.framing,
                reusable: head.keep_alive,
                pending: 0,
            },
        })
    }
}

/// A response whose head has arrived.
pub(crate) struct Response<'p> {
    /// The status code.
    pub status: u16,
    /// `Content-Type` is `application/json` (with or without parameters): a streamed request
    /// answered with one JSON reply instead of events.
    pub json: bool,
    /// The headers, kept only for statuses outside 2xx (a success needs none of them, and
    /// building the map cost a few allocations per call).
    pub headers: HeaderMap,
    /// The body, read with [`Body::next`] or [`Body::collect`].
    pub body: Body<'p>,
}

/// A response body, read from the connection as it arrives.
pub(crate) struct Body<'p> {
    /// `None` once the body ended (the connection went back to the pool, or was closed).
    conn: Option<Conn>,
    pool: &'p Pool,
    framing: Framing,
    /// The connection may carry another request once this body has ended.
    reusable: bool,
    /// Bytes handed out by the last [`Body::next`], dropped from the buffer at the next call.
    pending: usize,
}

impl Body<'_> {
    /// The next piece of the body as it arrives; `None` at its end.
    pub async fn next(&mut self) -> Result<Option<&[u8]>, BodyError> {
        loop {
            let Some(conn) = self.conn.as_mut() else {
                return Ok(None);
            };
            conn.buf.advance(std::mem::take(&mut self.pending));
            match self.framing {
                Framing::Done => {
                    self.end();
                    return Ok(None);
                }
                Framing::Length(0) => self.framing = Framing::Done,
                Framing::Length(left) => {
                    let n = available(conn, left, "before its Content-Length was reached").await?;
                    self.framing = Framing::Length(left - n as u64);
                    return Ok(Some(self.hand_out(n)));
                }
                Framing::UntilClose => {
                    if conn.buf.is_empty() {
                        let read = conn.fill().await.map_err(cut)?;
                        if read == 0 {
                            self.reusable = false;
                            self.framing = Framing::Done;
                            continue;
                        }
                    }
                    let n = conn.buf.len();
                    return Ok(Some(self.hand_out(n)));
                }
                Framing::Chunked(state) => {
                    if let Some(n) = self.step_chunked(state).await? {
                        return Ok(Some(self.hand_out(n)));
                    }
                }
            }
        }
    }

    /// One step of chunked decoding; `Some(n)` when `n` bytes of data are ready at the front of
    /// the buffer.
    async fn step_chunked(&mut self, state: Chunk) -> Result<Option<usize>, BodyError> {
        let conn = self.conn.as_mut().expect("called with a connection");
        match chunk_step(state, &conn.buf)? {
            ChunkStep::More(where_) => fill_or_cut(conn, where_).await?,
            ChunkStep::Skip(used, next) => {
                conn.buf.advance(used);
                self.framing = next;
            }
            ChunkStep::Data(n, next) => {
                self.framing = Framing::Chunked(next);
                return Ok(Some(n));
            }
        }
        Ok(None)
    }

    fn hand_out(&mut self, n: usize) -> &[u8] {
        self.pending = n;
        &self
            .conn
            .as_ref()
            .expect("handing out from a connection")
            .buf[..n]
    }

    /// The length the head announced (`Content-Length`), if any.
    pub fn declared_len(&self) -> Option<u64> {
        match self.framing {
            Framing::Length(n) => Some(n),
            _ => None,
        }
    }

    /// The whole body (tests; the client reads bodies with a size limit).
    #[cfg(test)]
    pub async fn collect(mut self) -> Result<Vec<u8>, BodyError> {
        let mut out = match self.framing {
            Framing::Length(n) => Vec::with_capacity(usize::try_from(n).unwrap_or(0).min(1 << 20)),
            _ => Vec::new(),
        };
        while let Some(piece) = self.next().await? {
            out.extend_from_slice(piece);
        }
        Ok(out)
    }

    /// Ends the body with what is already buffered, without waiting for the network: for a
    /// reader that has what it needs (an SSE stream's `[DONE]`) but would keep the connection
    /// if its last bytes are already here. If they are not, the connection is closed.
    pub fn finish_buffered(mut self) {
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        conn.buf.advance(std::mem::take(&mut self.pending));
        loop {
            let Some(conn) = self.conn.as_mut() else {
                return;
            };
            let buf = &conn.buf;
            self.framing = match self.framing {
                Framing::Done => {
                    self.end();
                    return;
                }
                Framing::Length(left) if (buf.len() as u64) >= left => {
                    let n = usize::try_from(left).unwrap_or(usize::MAX);
                    conn.buf.advance(n);
                    Framing::Done
                }
                // The same steps as `next` takes, on what is buffered only.
                Framing::Chunked(state) => match chunk_step(state, buf) {
                    Ok(ChunkStep::Skip(used, next)) => {
                        conn.buf.advance(used);
                        next
                    }
                    Ok(ChunkStep::Data(n, next)) => {
                        conn.buf.advance(n);
                        Framing::Chunked(next)
                    }
                    Ok(ChunkStep::More(_)) | Err(_) => break,
                },
                _ => break,
            };
        }
        // The end is not here yet: dropping the connection closes it.
        self.conn = None;
    }

    /// The body has ended: the connection goes back to the pool if it can carry another
    /// request (nothing left over, keep-alive allowed).
    fn end(&mut self) {
        if let Some(conn) = self.conn.take()
            && self.reusable
            && conn.buf.is_empty()
        {
            self.pool.checkin(conn);
        }
    }
}

fn cut(e: io::Error) -> BodyError {
    BodyError(format!("the connection failed mid-body: {e}"))
}

/// How many of the `left` bytes still expected are buffered, reading first if none is.
async fn available(conn: &mut Conn, left: u64, where_: &str) -> Result<usize, BodyError> {
    if conn.buf.is_empty() {
        fill_or_cut(conn, where_).await?;
    }
    Ok(conn
        .buf
        .len()
        .min(usize::try_from(left).unwrap_or(usize::MAX)))
}

/// Reads more of a body that is not complete; the end of the stream here is a cut.
async fn fill_or_cut(conn: &mut Conn, where_: &str) -> Result<(), BodyError> {
    match conn.fill().await {
        Ok(0) => Err(BodyError(format!(
            "the server closed the connection {where_}"
        ))),
        Ok(_) => Ok(()),
        Err(e) => Err(cut(e)),
    }
}
