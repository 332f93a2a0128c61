//! A client's connection to one of our listeners ([`MailStream`]): it
//! starts in plain text and may switch to TLS (STARTTLS, STLS) or starts in
//! TLS (ports 465 and 995). Our own outbound connections have their own
//! client stream in `praisani_delivery::queue`.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

/// A connection from a client to one of our listeners, plain or TLS.
pub(crate) enum MailStream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
    /// Transient state while a handshake owns the socket.
    Switching,
}

impl MailStream {
    /// True once TLS is in place.
    pub(crate) fn is_tls(&self) -> bool {
        matches!(self, MailStream::Tls(_))
    }

    /// The plain TCP stream, for a TLS handshake; `None` (and the stream
    /// left as it was) when TLS is already in place.
    pub(crate) fn take_plain(&mut self) -> Option<TcpStream> {
        match std::mem::replace(self, MailStream::Switching) {
            MailStream::Plain(tcp) => Some(tcp),
            other => {
                *self = other;
                None
            }
        }
    }

    /// Reads the client's next bytes into `buf`, in place of what it held,
    /// taking up to `size` octets (or `buf`'s capacity, if larger). An idle
    /// plain connection holds no read buffer: the buffer is given back as
    /// soon as the client has nothing more to send, and taken again once
    /// the socket is readable, so idle clients cost no buffer memory. (TLS
    /// keeps its buffer: rustls may hold decrypted input the socket's
    /// readiness does not show.)
    pub(crate) async fn read_some(&mut self, buf: &mut Vec<u8>, size: usize) -> io::Result<usize> {
        match self {
            MailStream::Plain(tcp) => loop {
                if buf.capacity() == 0 {
                    // Not `readable()`: its future is 150 octets of every
                    // idle connection's state, this one a reference.
                    std::future::poll_fn(|cx| tcp.poll_read_ready(cx)).await?;
                }
                buf.clear();
                buf.reserve_exact(size);
                match tcp.try_read_buf(buf) {
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => *buf = Vec::new(),
                    Err(e) => return Err(e),
                }
            },
            MailStream::Tls(tls) => {
                buf.clear();
                buf.reserve_exact(size);
                tls.read_buf(buf).await
            }
            MailStream::Switching => Err(switching()),
        }
    }

    /// Writes and flushes pending output, then clears it (a TLS stream
    /// holds data back until flushed).
    pub(crate) async fn send(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        if !out.is_empty() {
            self.write_all(out).await?;
            self.flush().await?;
            out.clear();
        }
        Ok(())
    }
}

impl MailStream {
    /// Performs the server side of a TLS handshake on a plain stream. Any
    /// bytes the client sent before the handshake and that were read from
    /// the socket are gone already: the protocol engines discard them.
    pub(crate) async fn start_tls(&mut self, acceptor: &TlsAcceptor) -> io::Result<()> {
        let tcp = self
            .take_plain()
            .ok_or_else(|| io::Error::other("TLS is already active"))?;
        let tls = acceptor.accept(tcp).await?;
        *self = MailStream::Tls(Box::new(tls));
        Ok(())
    }

    /// STARTTLS/STLS: the handshake with the current certificate, within
    /// the configured time. False when it failed and the connection must
    /// be dropped (the reason is logged).
    pub(crate) async fn upgrade(&mut self, shared: &super::Shared, command: &str) -> bool {
        let limit = shared.config.limits.tls_handshake_timeout;
        self.upgrade_within(shared, command, limit).await
    }

    /// [`upgrade`](Self::upgrade) within `limit`.
    pub(crate) async fn upgrade_within(
        &mut self,
        shared: &super::Shared,
        command: &str,
        limit: std::time::Duration,
    ) -> bool {
        let acceptor = shared.tls.acceptor();
        // Boxed: the handshake's state is large and needed only now, not
        // in every connection's idle state.
        match tokio::time::timeout(limit, Box::pin(self.start_tls(&acceptor))).await {
            Ok(Ok(())) => {
                tracing::debug!(tls = ?self.tls_description(), "{command} done");
                true
            }
            Ok(Err(e)) => {
                tracing::info!("{command} handshake failed: {e}");
                false
            }
            Err(_) => {
                tracing::info!("{command} handshake timed out");
                false
            }
        }
    }

    /// Describes the negotiated TLS, for the Received header and the log.
    pub(crate) fn tls_description(&self) -> Option<String> {
        let MailStream::Tls(t) = self else {
            return None;
        };
        let (_, conn) = t.get_ref();
        let version = conn
            .protocol_version()
            .map(|v| format!("{v:?}"))
            .unwrap_or_default();
        let suite = conn
            .negotiated_cipher_suite()
            .map(|s| format!("{:?}", s.suite()))
            .unwrap_or_default();
        Some(format!("{} {}", version.replace('_', "."), suite))
    }
}

fn switching() -> io::Error {
    io::Error::other("stream used during a TLS handshake")
}

impl AsyncRead for MailStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MailStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            MailStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            MailStream::Switching => Poll::Ready(Err(switching())),
        }
    }
}

impl AsyncWrite for MailStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MailStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            MailStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            MailStream::Switching => Poll::Ready(Err(switching())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MailStream::Plain(s) => Pin::new(s).poll_flush(cx),
            MailStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            MailStream::Switching => Poll::Ready(Err(switching())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MailStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            MailStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            MailStream::Switching => Poll::Ready(Err(switching())),
        }
    }
}
