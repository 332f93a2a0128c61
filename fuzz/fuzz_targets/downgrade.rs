//! RFC 6857 header downgrade: any header section (UTF-8 or not, well formed
//! or not) comes back as ASCII without a panic, and ASCII input comes back
//! unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use praisani_mailhost::downgrade::{downgrade_header, needs_downgrade};

fuzz_target!(|data: &[u8]| {
    let out = downgrade_header(data);
    assert!(!needs_downgrade(&out), "downgraded header still has 8-bit octets");
    if data.is_ascii() {
        assert_eq!(out, data, "an ASCII header must come back byte for byte");
    }
    // Downgrading twice changes nothing more.
    assert_eq!(downgrade_header(&out), out);
});
