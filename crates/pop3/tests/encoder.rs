//! The RETR/TOP streaming encoder, checked against a simple line-at-a-time reference at
//! every chunk split.

mod common;

use common::XorShift;
use praisani_pop3::Encoder;

/// Line-at-a-time reference: what the encoder must produce for the whole content.
fn reference(content: &[u8], top: Option<u64>) -> Vec<u8> {
    let mut lines: Vec<&[u8]> = content.split(|&b| b == b'\n').collect();
    if content.is_empty() || content.ends_with(b"\n") {
        lines.pop(); // split yields an empty tail after a final LF
    }
    let mut out = Vec::new();
    let mut in_header = true;
    let mut body = 0u64;
    for line in lines {
        if let Some(k) = top
            && !in_header
            && body >= k
        {
            break;
        }
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.starts_with(b".") {
            out.push(b'.');
        }
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
        if !in_header {
            body += 1;
        } else if line.is_empty() {
            in_header = false;
        }
    }
    out.extend_from_slice(b".\r\n");
    out
}

fn encode_chunks(chunks: &[&[u8]], top: Option<u64>) -> Vec<u8> {
    let mut e = Encoder::new(top);
    let mut out = Vec::new();
    for c in chunks {
        e.encode(c, &mut out);
    }
    e.finish(&mut out);
    out
}

/// What a client recovers: CRLF-separated lines up to the lone ".", un-stuffed.
fn client_decode(wire: &[u8]) -> Vec<Vec<u8>> {
    let mut lines: Vec<Vec<u8>> = Vec::new();
    let mut rest = wire;
    while let Some(i) = rest.windows(2).position(|w| w == b"\r\n") {
        let line = &rest[..i];
        rest = &rest[i + 2..];
        assert!(!line.contains(&b'\n'), "bare LF on the wire: {wire:?}");
        if line == b"." {
            assert!(rest.is_empty(), "data after the terminator: {wire:?}");
            return lines;
        }
        lines.push(line.strip_prefix(b".").unwrap_or(line).to_vec());
    }
    panic!("no terminator in {:?}", String::from_utf8_lossy(wire));
}

/// The lines a client should recover from a RETR of `content`: split at LF, one CR before
/// each LF dropped.
fn content_lines(content: &[u8]) -> Vec<Vec<u8>> {
    let mut lines: Vec<&[u8]> = content.split(|&b| b == b'\n').collect();
    if content.is_empty() || content.ends_with(b"\n") {
        lines.pop();
    }
    lines
        .into_iter()
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l).to_vec())
        .collect()
}

const SAMPLES: &[&[u8]] = &[
    b"",
    b"\r\n",
    b".",
    b".\r\n",
    b"..\r\n.\r\n",
    b"Subject: a\r\n\r\n.body\r\n..\r\n.\r\nend",
    b"Subject: a\r\n\r\nbody without final crlf",
    b"Subject: a\r\nX: .y\r\n\r\n\r\n.\r\n\r\n",
    b"Subject: a\r\n",
    b"No-Body: x",
    b"bare\nlf\n.dot\n\nbody\n",
    b"cr at end\r",
    b"mixed\r\r\n.\r\r\n\r\nx\r\ny",
    b"\r\n\r\n.\r\n.",
    b"A: 1\r\n\r\nl1\r\nl2\r\nl3\r\nl4\r\n",
];

const TOPS: &[Option<u64>] = &[None, Some(0), Some(1), Some(2), Some(3), Some(100)];

#[test]
fn whole_content_matches_reference() {
    for content in SAMPLES {
        for &top in TOPS {
            assert_eq!(
                String::from_utf8_lossy(&encode_chunks(&[content], top)),
                String::from_utf8_lossy(&reference(content, top)),
                "content {:?} top {top:?}",
                String::from_utf8_lossy(content)
            );
        }
    }
}

#[test]
fn every_split_point_gives_the_same_output() {
    for content in SAMPLES {
        for &top in TOPS {
            let expected = reference(content, top);
            for i in 0..=content.len() {
                for j in i..=content.len() {
                    let chunks = [&content[..i], &content[i..j], &content[j..]];
                    assert_eq!(
                        encode_chunks(&chunks, top),
                        expected,
                        "content {:?} top {top:?} split {i},{j}",
                        String::from_utf8_lossy(content)
                    );
                }
            }
        }
    }
}

#[test]
fn one_byte_chunks() {
    for content in SAMPLES {
        for &top in TOPS {
            let chunks: Vec<&[u8]> = content.chunks(1).collect();
            assert_eq!(encode_chunks(&chunks, top), reference(content, top));
        }
    }
}

#[test]
fn empty_content() {
    assert_eq!(encode_chunks(&[], None), b".\r\n");
    assert_eq!(encode_chunks(&[b"", b""], Some(0)), b".\r\n");
}

#[test]
fn content_not_ending_in_crlf_gets_one_before_terminator() {
    assert_eq!(encode_chunks(&[b"a\r\nb"], None), b"a\r\nb\r\n.\r\n");
    assert_eq!(encode_chunks(&[b"a\r\n."], None), b"a\r\n..\r\n.\r\n");
}

#[test]
fn dot_stuffing_across_chunks() {
    assert_eq!(
        encode_chunks(&[b"x\r", b"\n", b".", b"y\r\n", b".", b"\r\n"], None),
        b"x\r\n..y\r\n..\r\n.\r\n"
    );
}

#[test]
fn top_is_done_and_ignores_the_rest() {
    let mut e = Encoder::new(Some(1));
    let mut out = Vec::new();
    e.encode(b"H: 1\r\n\r\nfirst\r", &mut out);
    assert!(!e.is_done());
    e.encode(b"\nsecond\r\n", &mut out);
    assert!(e.is_done());
    e.encode(b"third\r\n", &mut out);
    e.finish(&mut out);
    assert_eq!(out, b"H: 1\r\n\r\nfirst\r\n.\r\n");

    let mut e = Encoder::new(Some(0));
    let mut out = Vec::new();
    e.encode(b"H: 1\r\n", &mut out);
    assert!(!e.is_done());
    e.encode(b"\r\n", &mut out);
    assert!(e.is_done());

    // RETR is never done early.
    let mut e = Encoder::new(None);
    e.encode(b"H: 1\r\n\r\nbody\r\n", &mut Vec::new());
    assert!(!e.is_done());
}

#[test]
fn random_content_roundtrips_through_a_client() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let alphabet = b".\r\n\r\nab .";
    for _ in 0..2000 {
        let len = rng.below(64) as usize;
        let content: Vec<u8> = (0..len)
            .map(|_| alphabet[rng.below(alphabet.len() as u64) as usize])
            .collect();
        let top = match rng.below(3) {
            0 => None,
            _ => Some(rng.below(4)),
        };
        let mut chunks = Vec::new();
        let mut rest = &content[..];
        while !rest.is_empty() {
            let n = 1 + rng.below(rest.len() as u64) as usize;
            chunks.push(&rest[..n]);
            rest = &rest[n..];
        }
        let wire = encode_chunks(&chunks, top);
        assert_eq!(wire, reference(&content, top), "{content:?} {top:?}");
        // For RETR the client recovers every line of the content.
        if top.is_none() {
            assert_eq!(client_decode(&wire), content_lines(&content), "{content:?}");
        }
    }
}
