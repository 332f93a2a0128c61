//! APOP (RFC 1939 section 7): the client proves knowledge of a shared secret by sending
//! `md5(timestamp + secret)` for the timestamp in the server greeting.

use md5::{Digest, Md5};
use subtle::ConstantTimeEq;

/// The digest a client should send: `md5(timestamp + secret)` as 32 lowercase hex digits.
pub fn apop_digest(timestamp: &str, secret: &str) -> String {
    let hash = Md5::new()
        .chain_update(timestamp.as_bytes())
        .chain_update(secret.as_bytes())
        .finalize();
    let mut hex = String::with_capacity(32);
    for b in hash {
        hex.push(char::from(HEX[usize::from(b >> 4)]));
        hex.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    hex
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Whether `digest` (hex, either case) equals `md5(timestamp + secret)`.
///
/// The comparison runs in constant time over the 16 digest octets so response timing does
/// not tell an attacker how many leading octets were right.
pub fn apop_matches(timestamp: &str, secret: &str, digest: &str) -> bool {
    let Some(given) = decode_hex16(digest.as_bytes()) else {
        return false;
    };
    let expected = Md5::new()
        .chain_update(timestamp.as_bytes())
        .chain_update(secret.as_bytes())
        .finalize();
    expected.as_slice().ct_eq(&given).into()
}

fn decode_hex16(hex: &[u8]) -> Option<[u8; 16]> {
    if hex.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (slot, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        *slot = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(out)
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TS: &str = "<1896.697170952@dbc.mtview.ca.us>";

    #[test]
    fn rfc1939_example() {
        assert_eq!(
            apop_digest(TS, "tanstaaf"),
            "c4c9334bac560ecc979e58001b3e22fb"
        );
        assert!(apop_matches(
            TS,
            "tanstaaf",
            "c4c9334bac560ecc979e58001b3e22fb"
        ));
        assert!(apop_matches(
            TS,
            "tanstaaf",
            "C4C9334BAC560ECC979E58001B3E22FB"
        ));
    }

    #[test]
    fn mismatches() {
        assert!(!apop_matches(
            TS,
            "tanstaaF",
            "c4c9334bac560ecc979e58001b3e22fb"
        ));
        assert!(!apop_matches(
            TS,
            "tanstaaf",
            "c4c9334bac560ecc979e58001b3e22fc"
        ));
        assert!(!apop_matches(
            "<other@host>",
            "tanstaaf",
            "c4c9334bac560ecc979e58001b3e22fb"
        ));
        assert!(!apop_matches(
            TS,
            "tanstaaf",
            "c4c9334bac560ecc979e58001b3e22f"
        ));
        assert!(!apop_matches(
            TS,
            "tanstaaf",
            "c4c9334bac560ecc979e58001b3e22fbb"
        ));
        assert!(!apop_matches(
            TS,
            "tanstaaf",
            "x4c9334bac560ecc979e58001b3e22fb"
        ));
        assert!(!apop_matches(TS, "tanstaaf", ""));
        assert!(!apop_matches(
            TS,
            "tanstaaf",
            "c4c9334bac560ecc979e58001b3e22f\u{e9}"
        ));
    }
}
