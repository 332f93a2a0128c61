//! Base64 as SASL uses it on the wire (RFC 4648 standard alphabet, padded).
//!
//! SMTP (RFC 4954) and POP3 (RFC 5034) carry every challenge and response
//! as one line of base64. Decoding is strict on purpose: a line with
//! whitespace, a missing `=` or non-zero trailing bits is not something a
//! correct client sends, and accepting it would only widen what the
//! mechanisms below have to cope with. The protocol-level tokens `*`
//! (cancel) and a lone `=` (empty initial response, RFC 4954 section 4)
//! are not base64 and must be recognised by the protocol layer before it
//! calls [`b64_decode`].

use crate::Failure;

/// Encodes `data` as standard, padded base64 (what `334 ` / `+ ` lines carry).
pub fn b64_encode(data: &[u8]) -> String {
    praisani_message::base64::encode(data)
}

/// Decodes standard, padded base64; rejects whitespace, bad padding and
/// non-alphabet characters with [`Failure::Malformed`]. The empty string
/// decodes to no bytes.
pub fn b64_decode(text: &str) -> Result<Vec<u8>, Failure> {
    praisani_message::base64::decode(text).ok_or(Failure::Malformed("invalid base64"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_known_values() {
        assert_eq!(b64_encode(b""), "");
        assert_eq!(b64_encode(b"Username:"), "VXNlcm5hbWU6");
        assert_eq!(b64_encode(b"Password:"), "UGFzc3dvcmQ6");
        assert_eq!(b64_encode(b"\0user\0pass"), "AHVzZXIAcGFzcw==");
        assert_eq!(b64_decode("AHVzZXIAcGFzcw==").unwrap(), b"\0user\0pass");
        assert_eq!(b64_decode("").unwrap(), b"");
        for len in 0..40u8 {
            let data: Vec<u8> = (0..len).map(|i| i.wrapping_mul(37)).collect();
            assert_eq!(b64_decode(&b64_encode(&data)).unwrap(), data);
        }
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "AHVzZXIAcGFzcw",     // missing padding
            "AHVzZXIA cGFzcw==",  // inner space
            " AHVzZXIAcGFzcw==",  // leading space
            "AHVzZXIAcGFzcw==\r", // trailing CR
            "AHVzZXIAcGFzcw==\n", // trailing LF
            "=",                  // the protocol's "empty" token is not base64
            "*",                  // nor is cancel
            "Zm9v!",
            "Zm9=", // non-canonical trailing bits
            "Zg===",
            "-_8=", // URL-safe alphabet
        ] {
            assert_eq!(
                b64_decode(bad),
                Err(Failure::Malformed("invalid base64")),
                "{bad:?}"
            );
        }
    }
}
