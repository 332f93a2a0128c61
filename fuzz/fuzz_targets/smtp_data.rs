//! The DATA decoder: whatever the chunking, the output is the same; it ends
//! only at a real CRLF.CRLF; the output has only CRLF line ends.
#![no_main]

use libfuzzer_sys::fuzz_target;
use praisani_smtp::DataDecoder;

fn run(input: &[u8], step: usize) -> (Vec<u8>, usize, bool) {
    let mut d = DataDecoder::new(0, 0);
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < input.len() && !d.is_finished() {
        let end = (pos + step).min(input.len());
        let mut fed = pos;
        while fed < end && !d.is_finished() {
            let p = d.decode(&input[fed..end], &mut out, usize::MAX);
            fed += p.consumed;
            if p.consumed == 0 {
                break;
            }
        }
        pos = fed;
    }
    (out, pos, d.is_finished())
}

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    let step = 1 + data[0] as usize % 17;
    let input = &data[1..];
    let (a, used_a, fin_a) = run(input, input.len().max(1));
    let (b, used_b, fin_b) = run(input, step);
    assert_eq!((fin_a, used_a), (fin_b, used_b));
    assert_eq!(a, b);
    if fin_a {
        // The terminator is a real CRLF.CRLF (the DATA line's CRLF counts
        // as the first CRLF).
        let consumed = &input[..used_a];
        assert!(consumed.ends_with(b".\r\n"));
        assert!(used_a == 3 || consumed[..used_a - 3].ends_with(b"\r\n"));
    }
    for (i, &c) in a.iter().enumerate() {
        if c == b'\n' {
            assert!(i > 0 && a[i - 1] == b'\r');
        }
        if c == b'\r' {
            assert!(a.get(i + 1) == Some(&b'\n'));
        }
    }
});
