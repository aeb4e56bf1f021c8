//! How a body's end is found ([`Framing`]: a length, chunked, or the server's close), and
//! chunked decoding as steps without I/O, so the transport's [`Body`](super::Body) and
//! [`ChunkedDecoder`] decode the same whatever the network's cuts.

/// Most bytes of the trailer section after a chunked body (every trailer line and the blank
/// line that ends them, CRLFs included).
const MAX_TRAILER_BYTES: usize = 16 * 1024;
/// Most bytes of one chunk-size line (size, extensions and CRLF).
const MAX_CHUNK_SIZE_LINE: usize = 1024;

/// The body broke off, or its framing is invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyError(pub String);

/// How the body's end is found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Framing {
    /// This many bytes are left.
    Length(u64),
    /// Chunked transfer coding, in this state.
    Chunked(Chunk),
    /// Until the server closes the connection.
    UntilClose,
    /// Read to its end.
    Done,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Chunk {
    /// A chunk-size line is next.
    Size,
    /// This many bytes of chunk data are left.
    Data(u64),
    /// The CRLF after a chunk's data is next.
    DataEnd,
    /// Trailer lines up to an empty line are next; this many trailer bytes came before.
    Trailers(usize),
}

/// What one step of chunked decoding does with the bytes buffered.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum ChunkStep {
    /// More bytes are needed; the text says where in the body, for a cut.
    More(&'static str),
    /// This many framing bytes at the front are used up; decoding goes on in this state.
    Skip(usize, Framing),
    /// This many bytes at the front are data; decoding goes on in this state.
    Data(usize, Chunk),
}

/// One step of chunked decoding of the bytes buffered, `buf`, in `state`, without I/O: what
/// [`Body::next`](super::Body::next), [`Body::finish_buffered`](super::Body::finish_buffered)
/// and [`ChunkedDecoder`] all run, so the body read is the same wherever the network cut it.
/// Each limit applies to a whole line or section, so a line is refused or not whatever part
/// of it has arrived: a chunk-size line of more than [`MAX_CHUNK_SIZE_LINE`] bytes, a trailer
/// section of more than [`MAX_TRAILER_BYTES`].
pub(super) fn chunk_step(state: Chunk, buf: &[u8]) -> Result<ChunkStep, BodyError> {
    let trailers_too_long = || BodyError("the trailers of a chunked body are too long".to_string());
    Ok(match state {
        Chunk::Size => match httparse::parse_chunk_size(buf) {
            Ok(httparse::Status::Complete((used, size))) if used <= MAX_CHUNK_SIZE_LINE => {
                ChunkStep::Skip(
                    used,
                    Framing::Chunked(if size == 0 {
                        Chunk::Trailers(0)
                    } else {
                        Chunk::Data(size)
                    }),
                )
            }
            // Not complete: the line is at least one byte longer than what is here.
            Ok(httparse::Status::Partial) if buf.len() < MAX_CHUNK_SIZE_LINE => {
                ChunkStep::More("inside a chunk-size line")
            }
            Ok(_) => return Err(BodyError("a chunk-size line is too long".into())),
            Err(_) => return Err(BodyError("invalid chunk size in a chunked body".into())),
        },
        Chunk::Data(_) if buf.is_empty() => ChunkStep::More("inside a chunk"),
        Chunk::Data(left) => {
            let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            let left = left - n as u64;
            ChunkStep::Data(
                n,
                if left == 0 {
                    Chunk::DataEnd
                } else {
                    Chunk::Data(left)
                },
            )
        }
        Chunk::DataEnd => match buf.get(..2) {
            None => ChunkStep::More("after a chunk"),
            Some(b"\r\n") => ChunkStep::Skip(2, Framing::Chunked(Chunk::Size)),
            Some(_) => return Err(BodyError("a chunk is longer than its size".into())),
        },
        Chunk::Trailers(seen) => match memchr::memmem::find(buf, b"\r\n") {
            Some(end) => {
                let seen = seen.saturating_add(end + 2);
                if seen > MAX_TRAILER_BYTES {
                    return Err(trailers_too_long());
                }
                // An empty line ends the trailers and the body; a trailer field is nothing a
                // client of this API reads.
                ChunkStep::Skip(
                    end + 2,
                    if end == 0 {
                        Framing::Done
                    } else {
                        Framing::Chunked(Chunk::Trailers(seen))
                    },
                )
            }
            // The line under way needs at least one more byte.
            None if seen.saturating_add(buf.len()) < MAX_TRAILER_BYTES => {
                ChunkStep::More("inside the trailers")
            }
            None => return Err(trailers_too_long()),
        },
    })
}

/// A chunked body decoded from bytes in memory, fed in pieces cut anywhere: the transport's
/// own steps (its `Body` runs the same on what it reads). Public for the property tests.
#[derive(Debug)]
pub struct ChunkedDecoder {
    framing: Framing,
    buf: Vec<u8>,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        ChunkedDecoder {
            framing: Framing::Chunked(Chunk::Size),
            buf: Vec::new(),
        }
    }
}

impl ChunkedDecoder {
    /// Takes the next bytes of the body and appends the data they complete to `out`;
    /// `Ok(true)` once the body has ended (its last chunk and trailers read). Bytes after the
    /// end are kept, unread, in [`ChunkedDecoder::buffered`].
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<u8>) -> Result<bool, BodyError> {
        self.buf.extend_from_slice(bytes);
        let mut at = 0;
        let ended = loop {
            let Framing::Chunked(state) = self.framing else {
                break true;
            };
            match chunk_step(state, &self.buf[at..])? {
                ChunkStep::More(_) => break false,
                ChunkStep::Skip(used, next) => {
                    at += used;
                    self.framing = next;
                }
                ChunkStep::Data(n, next) => {
                    out.extend_from_slice(&self.buf[at..at + n]);
                    at += n;
                    self.framing = Framing::Chunked(next);
                }
            }
        };
        self.buf.drain(..at);
        Ok(ended)
    }

    /// At the end of the bytes: `Err` if the body is not complete (a cut), as the transport
    /// reports a connection closed mid-body.
    pub fn end(&self) -> Result<(), BodyError> {
        match self.framing {
            Framing::Done => Ok(()),
            _ => Err(BodyError(
                "the server closed the connection mid-body".into(),
            )),
        }
    }

    /// Bytes fed but not decoded yet (after the end: what followed the body).
    pub fn buffered(&self) -> &[u8] {
        &self.buf
    }
}
