//! One POP3 connection to the old server: lines read within a length
//! limit and a time limit per step, commands written, status lines and
//! multi-line responses read through [`praisani_pop3::client`].

use super::PullError;
use praisani_pop3::client::{self, Data, Status};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

/// A byte stream a connection runs over (TCP, or TLS over TCP).
pub(super) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A connection and its limits.
pub(super) struct Conn<S> {
    pub(super) r: BufReader<S>,
    timeout: Duration,
    max_line: usize,
}

impl<S: Io> Conn<S> {
    pub(super) fn new(stream: S, timeout: Duration, max_line: usize) -> Conn<S> {
        Conn {
            r: BufReader::new(stream),
            timeout,
            max_line,
        }
    }

    /// The next line, its line end included; an error past `max_line`
    /// octets, at the end of the stream, or after the time limit.
    pub(super) async fn line(&mut self, step: &'static str) -> Result<Vec<u8>, PullError> {
        let mut out = Vec::new();
        let read = async {
            loop {
                let buf = self
                    .r
                    .fill_buf()
                    .await
                    .map_err(|e| PullError::io(step, e))?;
                if buf.is_empty() {
                    return Err(PullError::Closed(step));
                }
                let (take, done) = match buf.iter().position(|&b| b == b'\n') {
                    Some(i) => (i + 1, true),
                    None => (buf.len(), false),
                };
                if out.len() + take > self.max_line {
                    return Err(PullError::Protocol(format!(
                        "{step}: a line longer than {} octets",
                        self.max_line
                    )));
                }
                out.extend_from_slice(&buf[..take]);
                self.r.consume(take);
                if done {
                    return Ok(());
                }
            }
        };
        tokio::time::timeout(self.timeout, read)
            .await
            .map_err(|_| PullError::TimedOut(step))??;
        Ok(out)
    }

    /// Writes `bytes` and flushes.
    pub(super) async fn send(&mut self, bytes: &[u8], step: &'static str) -> Result<(), PullError> {
        let w = self.r.get_mut();
        let write = async {
            w.write_all(bytes).await?;
            w.flush().await
        };
        tokio::time::timeout(self.timeout, write)
            .await
            .map_err(|_| PullError::TimedOut(step))?
            .map_err(|e| PullError::io(step, e))
    }

    /// A status line.
    pub(super) async fn status(&mut self, step: &'static str) -> Result<Status, PullError> {
        let line = self.line(step).await?;
        client::status(&line).map_err(|e| PullError::Protocol(format!("{step}: {e}")))
    }

    /// Sends a command and reads its status line.
    pub(super) async fn command(
        &mut self,
        verb: &str,
        args: &[&str],
        step: &'static str,
    ) -> Result<Status, PullError> {
        let cmd = client::command(verb, args).map_err(|e| PullError::Protocol(e.to_string()))?;
        self.send(&cmd, step).await?;
        self.status(step).await
    }

    /// The lines of a multi-line response, byte-stuffing undone, at most
    /// `max` of them.
    pub(super) async fn lines(
        &mut self,
        step: &'static str,
        max: usize,
    ) -> Result<Vec<Vec<u8>>, PullError> {
        let mut out = Vec::new();
        loop {
            let line = self.line(step).await?;
            match client::data(&line) {
                Data::End => return Ok(out),
                Data::Line(l) => {
                    if out.len() == max {
                        return Err(PullError::Protocol(format!(
                            "{step}: more than {max} lines"
                        )));
                    }
                    out.push(l.to_vec());
                }
            }
        }
    }
}
