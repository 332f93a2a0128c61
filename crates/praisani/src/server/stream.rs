//! A connection that starts in plain text and may switch to TLS (STARTTLS,
//! STLS) or start in TLS (ports 465 and 995).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// A client connection, plain or TLS.
pub(crate) enum MailStream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<TlsStream<TcpStream>>),
    /// Transient state while a handshake owns the socket.
    Switching,
}

impl MailStream {
    /// True once TLS is in place.
    pub(crate) fn is_tls(&self) -> bool {
        matches!(self, MailStream::Tls(_))
    }

    /// Performs the server side of a TLS handshake on a plain stream. Any
    /// bytes the client sent before the handshake and that were read from
    /// the socket are gone already: the protocol engines discard them.
    pub(crate) async fn start_tls(&mut self, acceptor: &TlsAcceptor) -> io::Result<()> {
        match std::mem::replace(self, MailStream::Switching) {
            MailStream::Plain(tcp) => {
                let tls = acceptor.accept(tcp).await?;
                *self = MailStream::Tls(Box::new(tls));
                Ok(())
            }
            other => {
                *self = other;
                Err(io::Error::other("TLS is already active"))
            }
        }
    }

    /// STARTTLS/STLS: the handshake with the current certificate, within
    /// the configured time. False when it failed and the connection must
    /// be dropped (the reason is logged).
    pub(crate) async fn upgrade(&mut self, shared: &super::Shared, command: &str) -> bool {
        let acceptor = shared.tls.acceptor();
        let limit = shared.config.limits.tls_handshake_timeout;
        match tokio::time::timeout(limit, self.start_tls(&acceptor)).await {
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
