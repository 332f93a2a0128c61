//! Base64 (RFC 4648 section 4, standard alphabet, padded) for the whole
//! workspace: SMTP AUTH, MIME bodies, encoded words, DKIM. One encoder, the
//! `base64` crate's, so no two hand-written ones can disagree.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// `data` in base64 with padding, on one line.
pub fn encode(data: impl AsRef<[u8]>) -> String {
    STANDARD.encode(data)
}

/// Decodes padded standard base64 strictly (no whitespace, no missing
/// padding); `None` when it is not.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    STANDARD.decode(text).ok()
}

/// A base64 MIME body: lines of 76 characters, each ending in CRLF
/// (RFC 2045 section 6.8).
pub fn push_body(out: &mut Vec<u8>, data: &[u8]) {
    let encoded = encode(data);
    for line in encoded.as_bytes().chunks(76) {
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in cases {
            assert_eq!(super::encode(plain.as_bytes()), encoded);
            assert_eq!(super::decode(encoded).unwrap(), plain.as_bytes());
        }
        assert_eq!(super::encode(b"\0user\0pass"), "AHVzZXIAcGFzcw==");
        assert_eq!(super::encode([0xff, 0xfe]), "//4=");
        assert_eq!(super::decode("Zg="), None);
    }

    #[test]
    fn body_lines() {
        let mut out = Vec::new();
        super::push_body(&mut out, &[0u8; 100]);
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<_> = text.split_terminator("\r\n").collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].len(), 76);
    }
}
