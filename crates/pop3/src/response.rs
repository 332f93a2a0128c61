//! Reply formatting: status lines, RFC 2449/3206 response codes and multi-line responses.
//!
//! Every reply the session or the server writes goes through here, so line endings, the
//! bracketed codes and dot-stuffing are decided in one place.

use std::fmt;

/// Extended response codes (RFC 2449 section 8, RFC 3206) placed in brackets after `-ERR`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseCode {
    /// `[AUTH]`: the failure concerns the credentials or the authentication method.
    Auth,
    /// `[IN-USE]`: the maildrop is locked by another session.
    InUse,
    /// `[LOGIN-DELAY]`: the user logged in too recently.
    LoginDelay,
    /// `[SYS/TEMP]`: a temporary server failure; retrying later may succeed.
    SysTemp,
    /// `[SYS/PERM]`: a permanent server failure; retrying will not help.
    SysPerm,
}

impl ResponseCode {
    /// The code as it appears on the wire, without brackets.
    pub fn as_str(self) -> &'static str {
        match self {
            ResponseCode::Auth => "AUTH",
            ResponseCode::InUse => "IN-USE",
            ResponseCode::LoginDelay => "LOGIN-DELAY",
            ResponseCode::SysTemp => "SYS/TEMP",
            ResponseCode::SysPerm => "SYS/PERM",
        }
    }
}

impl fmt::Display for ResponseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Appends `text` with control characters replaced by spaces.
///
/// Texts can come from the server (store errors, config) and a stray CR or LF would end the
/// status line early and let the rest be read as another response.
fn push_text(out: &mut Vec<u8>, text: &str) {
    out.extend(
        text.bytes()
            .map(|b| if b < 0x20 || b == 0x7f { b' ' } else { b }),
    );
}

/// `+OK text\r\n` (or `+OK\r\n` when `text` is empty).
pub(crate) fn ok(text: &str) -> Vec<u8> {
    status(b"+OK", None, text)
}

/// `-ERR text\r\n`.
pub(crate) fn err(text: &str) -> Vec<u8> {
    status(b"-ERR", None, text)
}

/// `-ERR [CODE] text\r\n`.
pub(crate) fn err_code(code: ResponseCode, text: &str) -> Vec<u8> {
    status(b"-ERR", Some(code), text)
}

/// `+ challenge\r\n`: a SASL server challenge (RFC 5034 section 4); `+ \r\n` when empty.
pub(crate) fn continuation(challenge: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(challenge.len() + 4);
    out.extend_from_slice(b"+ ");
    push_text(&mut out, challenge);
    out.extend_from_slice(b"\r\n");
    out
}

fn status(indicator: &[u8], code: Option<ResponseCode>, text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(indicator.len() + text.len() + 16);
    out.extend_from_slice(indicator);
    if let Some(code) = code {
        out.extend_from_slice(b" [");
        out.extend_from_slice(code.as_str().as_bytes());
        out.push(b']');
    }
    if !text.is_empty() {
        out.push(b' ');
        push_text(&mut out, text);
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// The status line that starts a successful RETR: `+OK <size> octets\r\n`.
///
/// `size` is the message size before dot-stuffing, as LIST reports it.
pub fn retr_ok_line(size: u64) -> Vec<u8> {
    ok(&format!("{size} octets"))
}

/// The status line that starts a successful TOP: `+OK top of message follows\r\n`.
pub fn top_ok_line() -> Vec<u8> {
    ok("top of message follows")
}

/// `-ERR [SYS/TEMP] <text>\r\n`: what the server writes when the store fails temporarily,
/// e.g. instead of a RETR response it could not read.
pub fn sys_temp_err(text: &str) -> Vec<u8> {
    err_code(ResponseCode::SysTemp, text)
}

/// `-ERR [SYS/PERM] <text>\r\n`: a failure that retrying will not cure, e.g. a message the
/// store lost.
pub fn sys_perm_err(text: &str) -> Vec<u8> {
    err_code(ResponseCode::SysPerm, text)
}

/// Builds a multi-line response: status line, dot-stuffed lines, terminating `.`.
pub(crate) struct MultiLine {
    out: Vec<u8>,
}

impl MultiLine {
    /// Starts with `+OK text`.
    pub(crate) fn ok(text: &str) -> Self {
        MultiLine { out: ok(text) }
    }

    /// Adds one line; a leading `.` is doubled (RFC 1939 section 3) so the client cannot
    /// mistake it for the terminator.
    pub(crate) fn line(&mut self, text: &str) {
        if text.starts_with('.') {
            self.out.push(b'.');
        }
        push_text(&mut self.out, text);
        self.out.extend_from_slice(b"\r\n");
    }

    /// Adds the terminator and returns the bytes.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        self.out.extend_from_slice(b".\r\n");
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(ok(""), b"+OK\r\n");
        assert_eq!(ok("fine"), b"+OK fine\r\n");
        assert_eq!(err("bad"), b"-ERR bad\r\n");
        assert_eq!(
            err_code(ResponseCode::InUse, "locked"),
            b"-ERR [IN-USE] locked\r\n"
        );
        assert_eq!(retr_ok_line(120), b"+OK 120 octets\r\n");
        assert_eq!(top_ok_line(), b"+OK top of message follows\r\n");
        assert_eq!(sys_temp_err("later"), b"-ERR [SYS/TEMP] later\r\n");
        assert_eq!(sys_perm_err("gone"), b"-ERR [SYS/PERM] gone\r\n");
        assert_eq!(continuation("dGVzdA=="), b"+ dGVzdA==\r\n");
        assert_eq!(continuation(""), b"+ \r\n");
        assert_eq!(continuation("a\r\nb"), b"+ a  b\r\n");
    }

    #[test]
    fn texts_cannot_inject_lines() {
        assert_eq!(sys_temp_err("a\r\n+OK b"), b"-ERR [SYS/TEMP] a  +OK b\r\n");
        let mut m = MultiLine::ok("x");
        m.line("1 a\r\n.");
        assert_eq!(m.finish(), b"+OK x\r\n1 a  .\r\n.\r\n");
    }

    #[test]
    fn multiline_stuffs_leading_dot() {
        let mut m = MultiLine::ok("list");
        m.line(".abc");
        m.line("a.b");
        m.line(".");
        assert_eq!(m.finish(), b"+OK list\r\n..abc\r\na.b\r\n..\r\n.\r\n");
    }
}
