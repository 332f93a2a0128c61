//! The connection to another server: plain TCP that may switch to TLS
//! (STARTTLS), or TLS from the start (implicit TLS, port 465).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// A connection we opened, plain or TLS.
pub(super) enum OutStream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<TlsStream<TcpStream>>),
    /// Transient state while a handshake owns the socket.
    Switching,
}

impl OutStream {
    /// The plain TCP stream, for a TLS handshake; `None` (and the stream
    /// left as it was) when TLS is already in place.
    pub(super) fn take_plain(&mut self) -> Option<TcpStream> {
        match std::mem::replace(self, OutStream::Switching) {
            OutStream::Plain(tcp) => Some(tcp),
            other => {
                *self = other;
                None
            }
        }
    }
}

fn switching() -> io::Error {
    io::Error::other("stream used during a TLS handshake")
}

impl AsyncRead for OutStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            OutStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            OutStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            OutStream::Switching => Poll::Ready(Err(switching())),
        }
    }
}

impl AsyncWrite for OutStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            OutStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            OutStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            OutStream::Switching => Poll::Ready(Err(switching())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            OutStream::Plain(s) => Pin::new(s).poll_flush(cx),
            OutStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            OutStream::Switching => Poll::Ready(Err(switching())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            OutStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            OutStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            OutStream::Switching => Poll::Ready(Err(switching())),
        }
    }
}
