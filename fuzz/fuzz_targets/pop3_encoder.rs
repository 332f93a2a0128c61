//! The RETR/TOP encoder: for CRLF content, undoing the dot-stuffing gives
//! back the input, whatever the chunking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use praisani_pop3::Encoder;

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    let split = data[0] as usize;
    let body = &data[1..];
    let mut out = Vec::new();
    let mut enc = Encoder::new(None);
    let mut i = 0;
    while i < body.len() {
        let end = (i + 1 + split % 19).min(body.len());
        enc.encode(&body[i..end], &mut out);
        i = end;
    }
    enc.finish(&mut out);
    assert!(out.ends_with(b".\r\n"));
    // Only well-formed CRLF content round-trips exactly.
    let clean = !body.windows(2).any(|w| w[1] == b'\n' && w[0] != b'\r')
        && !body.first().is_some_and(|&b| b == b'\n')
        && !body.windows(2).any(|w| w[0] == b'\r' && w[1] != b'\n')
        && !body.ends_with(b"\r");
    if clean {
        let text = &out[..out.len() - 3];
        let mut back = Vec::new();
        for line in text.split_inclusive(|&b| b == b'\n') {
            back.extend_from_slice(if line.starts_with(b".") { &line[1..] } else { line });
        }
        let mut expected = body.to_vec();
        if !expected.is_empty() && !expected.ends_with(b"\r\n") {
            expected.extend_from_slice(b"\r\n");
        }
        assert_eq!(back, expected);
    }
});
