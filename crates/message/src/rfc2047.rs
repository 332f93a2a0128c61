//! RFC 2047 encoded words (`B` encoding, UTF-8): the one writer for the
//! workspace, used by the messages we write and by the RFC 6857 downgrade.

/// UTF-8 octets per word for a header line that must stay under 76
/// characters with the word on it: 39 octets are 52 base64 characters, a
/// 64-character word.
pub const FOLDED_WORD_OCTETS: usize = 39;

/// UTF-8 octets per word for the longest word RFC 2047 section 2 allows:
/// 45 octets are 60 base64 characters, a 72-character word (75 at most).
pub const MAX_WORD_OCTETS: usize = 45;

/// `text` as encoded words of at most `octets` UTF-8 octets each, split only
/// between characters (RFC 2047 section 5: a word holds whole characters).
/// A character longer than `octets` still gets a word of its own.
pub fn encoded_words(text: &str, octets: usize) -> Vec<String> {
    let octets = octets.max(4);
    let mut words = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if i + c.len_utf8() - start > octets && i > start {
            words.push(word(&text.as_bytes()[start..i]));
            start = i;
        }
    }
    if start < text.len() {
        words.push(word(&text.as_bytes()[start..]));
    }
    words
}

fn word(utf8: &[u8]) -> String {
    format!("=?UTF-8?B?{}?=", crate::base64::encode(utf8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_between_characters_within_the_limit() {
        let text = "ทดสอบภาษาไทยที่ยาวพอที่จะต้องแบ่งเป็นหลายคำ";
        for octets in [FOLDED_WORD_OCTETS, MAX_WORD_OCTETS] {
            let words = encoded_words(text, octets);
            assert!(words.len() > 1);
            let mut back = Vec::new();
            for w in &words {
                let inner = w
                    .strip_prefix("=?UTF-8?B?")
                    .unwrap()
                    .strip_suffix("?=")
                    .unwrap();
                let bytes = crate::base64::decode(inner).unwrap();
                assert!(bytes.len() <= octets);
                assert!(std::str::from_utf8(&bytes).is_ok());
                back.extend(bytes);
                assert!(w.len() <= 75);
            }
            assert_eq!(back, text.as_bytes());
        }
        assert!(encoded_words("", 39).is_empty());
    }
}
