//! The request stream between TLS and the HTTP/1 dispatcher: it follows the requests'
//! framing on the read side and checks every request head before the dispatcher sees a
//! byte of it, so that the refusals the dispatcher would write itself (a 400 with an empty
//! body for an unparseable head, an empty 431 beyond its own limits, an empty 408 for a
//! first head that never arrives) are ours instead, in Key Vault's envelope.
//!
//! A head is checked with the dispatcher's own decoder (`actix_http::h1::Codec`), so that
//! whatever it would refuse is refused here first, plus `limits.max_header_bytes`. Bodies
//! of a known length pass through uncopied; chunked bodies go through the same decoder
//! to find where they end. On a refusal, the dispatcher gets every byte of the requests
//! before it, then the end of the stream: it answers them, shuts the stream down, and the
//! refusal's response goes out last, before the connection closes.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use actix_http::error::ParseError;
use actix_http::h1::{Codec, Message};
use actix_http::{Request, ServiceConfig};
use actix_web::http::header::{CONTENT_LENGTH, TRANSFER_ENCODING, UPGRADE};
use actix_web::http::{Method, StatusCode};
use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_util::codec::Decoder;

/// Where the next byte read belongs.
enum Framing {
    /// A request head.
    Head,
    /// A body with this many bytes still to come.
    Length(u64),
    /// A chunked body, followed by the decoder that read its head.
    Chunked(Box<Codec>),
    /// No longer requests (an upgrade, a CONNECT): passed on as it comes.
    Through,
}

/// What a refusal writes once the requests before it are answered.
enum Refusal {
    /// Our response, in the envelope.
    Answer(Vec<u8>),
    /// Nothing: the refusal broke a body, whose request the application answers.
    Silent,
}

/// A request stream that refuses, in the envelope, what the dispatcher would refuse
/// without one. See the module's documentation.
pub struct Guarded<S> {
    io: S,
    /// Bytes read from `io` not yet handed on; `buf[..ready]` passed the checks.
    buf: BytesMut,
    ready: usize,
    framing: Framing,
    /// `limits.max_header_bytes`: the request line and header lines, each with its CRLF.
    max_head: usize,
    config: ServiceConfig,
    /// Heads handed on so far (before the first, the dispatcher's only answer is a 408).
    heads: u64,
    /// Found, not yet reached by the dispatcher.
    refusal: Option<Refusal>,
    /// Reached: the dispatcher saw the end of the stream. Bytes to write, bytes written.
    answer: Option<(Vec<u8>, usize)>,
    /// The dispatcher's own writes are dropped (its 408 was replaced by ours).
    muted: bool,
    eof: bool,
}

impl<S> Guarded<S> {
    /// Wraps a client's stream; `max_head` is `limits.max_header_bytes`.
    pub fn new(io: S, max_head: usize) -> Self {
        Guarded {
            io,
            buf: BytesMut::new(),
            ready: 0,
            framing: Framing::Head,
            max_head,
            config: ServiceConfig::default(),
            heads: 0,
            refusal: None,
            answer: None,
            muted: false,
            eof: false,
        }
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &S {
        &self.io
    }

    /// Checks what was read beyond `ready`, moving `ready` over what passed.
    fn check(&mut self) {
        while self.refusal.is_none() && self.ready < self.buf.len() {
            let held = self.buf.len() - self.ready;
            match &mut self.framing {
                Framing::Through => self.ready = self.buf.len(),
                Framing::Length(left) => {
                    let n = (*left).min(held as u64);
                    self.ready += n as usize;
                    *left -= n;
                    if *left == 0 {
                        self.framing = Framing::Head;
                    }
                }
                Framing::Chunked(codec) => {
                    let mut rest = BytesMut::from(&self.buf[self.ready..]);
                    let end = loop {
                        match codec.decode(&mut rest) {
                            Ok(Some(Message::Chunk(Some(_)))) => continue,
                            Ok(Some(_)) => break Ok(true),
                            Ok(None) => break Ok(false),
                            Err(e) => break Err(e),
                        }
                    };
                    self.ready += held - rest.len();
                    match end {
                        Ok(true) => self.framing = Framing::Head,
                        Ok(false) => return,
                        Err(_) => self.refusal = Some(Refusal::Silent),
                    }
                }
                Framing::Head => {
                    let mut probe = BytesMut::from(&self.buf[self.ready..]);
                    let mut codec = Codec::new(self.config.clone());
                    match codec.decode(&mut probe) {
                        Ok(Some(Message::Item(req))) => {
                            let len = held - probe.len();
                            let head = &self.buf[self.ready..self.ready + len];
                            // The line ending the head is not the head's size.
                            let blank = if head.ends_with(b"\r\n\r\n") { 2 } else { 1 };
                            if len - blank > self.max_head {
                                self.refuse(ParseError::TooLarge);
                                return;
                            }
                            self.ready += len;
                            self.heads += 1;
                            self.framing = framing(&req, codec);
                        }
                        Ok(Some(Message::Chunk(_))) => self.framing = Framing::Through,
                        Ok(None) => {
                            if held > self.max_head + 2 {
                                self.refuse(ParseError::TooLarge);
                            }
                            return;
                        }
                        Err(e) => {
                            self.refuse(e);
                            return;
                        }
                    }
                }
            }
        }
    }

    fn refuse(&mut self, error: ParseError) {
        let (status, code, message) = match error {
            ParseError::TooLarge => (
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "RequestHeaderFieldsTooLarge",
                format!(
                    "The request line and headers exceed {} bytes or {MAX_HEADERS} headers.",
                    self.max_head
                ),
            ),
            _ => (
                StatusCode::BAD_REQUEST,
                "BadParameter",
                "The request line or a header is malformed.".to_owned(),
            ),
        };
        self.refusal = Some(Refusal::Answer(response(status, code, &message)));
    }
}

/// The dispatcher's limit on headers in one request (its decoder's; more is a 431).
const MAX_HEADERS: usize = 96;

/// How the request whose head `codec` just read goes on, the way the decoder decides it.
fn framing(req: &Request, codec: Codec) -> Framing {
    let headers = &req.head().headers;
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &actix_web::http::header::HeaderValue| v.to_str().ok())
            .map(str::trim)
    };
    // The decoder refused every transfer-encoding but chunked (and identity with it).
    if text(TRANSFER_ENCODING).is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        return Framing::Chunked(Box::new(codec));
    }
    if text(UPGRADE).is_some_and(|v| v.eq_ignore_ascii_case("websocket")) {
        return Framing::Through;
    }
    match text(CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok()) {
        Some(n) if n > 0 => Framing::Length(n),
        _ if req.head().method == Method::CONNECT => Framing::Through,
        _ => Framing::Head,
    }
}

/// A whole HTTP/1.1 response carrying Key Vault's error envelope; the connection closes.
fn response(status: StatusCode, code: &str, message: &str) -> Vec<u8> {
    let body = serde_json::json!({ "error": { "code": code, "message": message } }).to_string();
    let request_id = uuid::Uuid::new_v4();
    crate::metrics::http_request("Unparsed", status.as_u16(), "-", 0.0);
    tracing::info!(
        target: "certbroker::http",
        request_id = %request_id,
        operation = "Unparsed",
        status = status.as_u16(),
        "request"
    );
    let date = chrono::Utc::now().format("%a, %d %b %Y %H:%M:%S GMT");
    format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json; charset=utf-8\r\n\
         content-length: {}\r\nconnection: close\r\nx-ms-request-id: {request_id}\r\n\
         date: {date}\r\n\r\n{body}",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        body.len()
    )
    .into_bytes()
}

impl<S: AsyncRead + AsyncWrite + Unpin> Guarded<S> {
    /// Writes the refusal's response, if one is due.
    fn poll_answer(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some((bytes, written)) = &mut self.answer {
            while *written < bytes.len() {
                let n = ready!(Pin::new(&mut self.io).poll_write(cx, &bytes[*written..]))?;
                if n == 0 {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                *written += n;
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Guarded<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if this.ready > 0 {
                let n = this.ready.min(out.remaining());
                out.put_slice(&this.buf[..n]);
                this.buf.advance(n);
                this.ready -= n;
                return Poll::Ready(Ok(()));
            }
            // The requests before the refusal are all handed on: the stream ends here.
            match this.refusal.take() {
                Some(Refusal::Answer(bytes)) => this.answer = Some((bytes, 0)),
                Some(Refusal::Silent) => this.answer = Some((Vec::new(), 0)),
                None => {}
            }
            if this.answer.is_some() || this.eof {
                return Poll::Ready(Ok(()));
            }
            // Inside a body, with nothing held: straight into the reader's buffer.
            if this.buf.is_empty() && matches!(this.framing, Framing::Length(_) | Framing::Through)
            {
                let before = out.filled().len();
                ready!(Pin::new(&mut this.io).poll_read(cx, out))?;
                let got = (out.filled().len() - before) as u64;
                if got == 0 {
                    this.eof = true;
                } else if let Framing::Length(left) = &mut this.framing {
                    if got < *left {
                        *left -= got;
                    } else {
                        // The body ends in this read: what follows is held and checked.
                        let body = before + *left as usize;
                        this.buf.extend_from_slice(&out.filled()[body..]);
                        out.set_filled(body);
                        this.framing = Framing::Head;
                        this.check();
                    }
                }
                return Poll::Ready(Ok(()));
            }
            this.buf.reserve(8 * 1024);
            let n = ready!(tokio_util::io::poll_read_buf(
                Pin::new(&mut this.io),
                cx,
                &mut this.buf
            ))?;
            if n == 0 {
                this.eof = true;
            }
            this.check();
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Guarded<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        // Before any head was handed on, the dispatcher's one possible answer is its empty
        // 408 for a head that never came: ours goes instead.
        if this.heads == 0 && !this.muted && data.starts_with(b"HTTP/1.1 408") {
            this.muted = true;
            this.refusal = None;
            this.answer = Some((
                response(
                    StatusCode::REQUEST_TIMEOUT,
                    "RequestTimeout",
                    "The request head did not arrive in time.",
                ),
                0,
            ));
        }
        if this.muted {
            ready!(this.poll_answer(cx))?;
            return Poll::Ready(Ok(data.len()));
        }
        Pin::new(&mut this.io).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.muted {
            ready!(this.poll_answer(cx))?;
        }
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        ready!(this.poll_answer(cx))?;
        ready!(Pin::new(&mut this.io).poll_flush(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}
