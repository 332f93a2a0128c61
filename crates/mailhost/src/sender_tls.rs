//! What the sender of a message asked of the TLS it travels over
//! (RFC 8689): `REQUIRETLS` on MAIL FROM, or a `TLS-Required: No` header
//! field asking that the recipient domain's MTA-STS and DANE policies be
//! ignored. The queue follows what is decided here
//! (`delivery::queue::requiretls`, `queue/session.rs`).

use praisani_message::mime::header_fields;
use praisani_store::SenderTls;

/// The sender's wish for a message with the header section `header`,
/// given with REQUIRETLS on MAIL FROM or not. REQUIRETLS wins over the
/// header field, which is then ignored (RFC 8689).
pub fn sender_tls(requiretls: bool, header: &[u8]) -> SenderTls {
    if requiretls {
        SenderTls::Required
    } else if tls_required_no(header) {
        SenderTls::NotRequired
    } else {
        SenderTls::Policy
    }
}

/// The header section has `TLS-Required: No` (names and the value are
/// compared without regard to case).
fn tls_required_no(header: &[u8]) -> bool {
    header_fields(header).iter().any(|(name, value)| {
        name.eq_ignore_ascii_case("TLS-Required") && value.eq_ignore_ascii_case("no")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_field_and_the_parameter() {
        let no = b"Subject: x\r\ntls-required:   NO\r\n\r\nbody TLS-Required: No\r\n";
        assert_eq!(sender_tls(false, no), SenderTls::NotRequired);
        // REQUIRETLS on MAIL FROM wins.
        assert_eq!(sender_tls(true, no), SenderTls::Required);
        assert_eq!(sender_tls(true, b"Subject: x\r\n\r\n"), SenderTls::Required);
        assert_eq!(sender_tls(false, b"Subject: x\r\n\r\n"), SenderTls::Policy);
        // Only in the body, or another value: nothing asked.
        assert_eq!(
            sender_tls(false, b"Subject: x\r\n\r\nTLS-Required: No\r\n"),
            SenderTls::Policy
        );
        assert_eq!(
            sender_tls(false, b"TLS-Required: Yes\r\n\r\n"),
            SenderTls::Policy
        );
        assert_eq!(
            sender_tls(false, b"X-TLS-Required: No\r\n\r\n"),
            SenderTls::Policy
        );
    }
}
