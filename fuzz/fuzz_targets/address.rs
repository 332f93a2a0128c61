//! Domain and address parsing never panics, and a parsed value re-parses to
//! itself from both its canonical and its display form.
#![no_main]

use libfuzzer_sys::fuzz_target;
use praisani_mailaddr::{Address, Domain};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(d) = Domain::parse(s) {
        assert_eq!(Domain::parse(d.ascii()).ok(), Some(d.clone()));
    }
    if let Ok(a) = Address::parse(s) {
        assert_eq!(Address::parse(&a.canonical()).ok(), Some(a.clone()));
    }
});
