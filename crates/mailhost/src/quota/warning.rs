//! The quota warning the post office writes to a user about their mailbox,
//! in the account's language (English, Thai, Chinese).
//!
//! The text is UTF-8 in a base64 body, so the message is 7-bit on the wire
//! and every POP3 client shows it; the subject uses RFC 2047 encoded words.
//! `Auto-Submitted: auto-generated` (RFC 3834) keeps vacation responders
//! and our own bounce logic from answering it.

use chrono::{DateTime, FixedOffset};
use praisani_message::Language;
use praisani_message::base64::push_body as push_base64_body;
use praisani_message::mime::push_field;
use praisani_message::rfc2047::{FOLDED_WORD_OCTETS, encoded_words};

/// What a quota warning says.
#[derive(Debug, Clone)]
pub struct QuotaWarning<'a> {
    /// The mailbox address, as the user knows it (Unicode allowed).
    pub to: &'a str,
    /// The sender, e.g. `postmaster@` the user's domain.
    pub from: &'a str,
    /// Our host name, named as the sender of the automatic message.
    pub hostname: &'a str,
    /// The language of the text.
    pub language: Language,
    /// The threshold crossed, in percent.
    pub level: u8,
    /// How full the mailbox is, in percent.
    pub percent: u64,
    /// Octets stored.
    pub used_bytes: u64,
    /// The storage limit, if any.
    pub quota_bytes: Option<u64>,
    /// Messages stored.
    pub used_messages: u64,
    /// The message-count limit, if any.
    pub quota_messages: Option<u64>,
    /// `Date:`.
    pub date: DateTime<FixedOffset>,
    /// `Message-ID:` without angle brackets.
    pub message_id: &'a str,
}

/// Octets in the units people read: 512 KB, 1.5 MB, 2 GB (powers of 1024,
/// as mail programs show them).
pub fn human_size(n: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KB", "MB", "GB", "TB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} bytes")
    } else if value < 10.0 && value.fract() >= 0.05 {
        format!("{value:.1} {}", UNITS[unit])
    } else {
        format!("{:.0} {}", value, UNITS[unit])
    }
}

/// The usage line's pieces: "412 MB of 500 MB", "950 of 1000 messages".
fn usage_parts(w: &QuotaWarning) -> (Option<String>, Option<(u64, u64)>) {
    let bytes = w
        .quota_bytes
        .map(|q| (human_size(w.used_bytes), human_size(q)))
        .map(|(u, q)| match w.language {
            Language::En => format!("{u} of {q}"),
            Language::Th => format!("{u} จาก {q}"),
            Language::Zh => format!("{u} / {q}"),
        });
    let count = w.quota_messages.map(|q| (w.used_messages, q));
    (bytes, count)
}

/// Subject and body text of a warning.
pub fn quota_warning_text(w: &QuotaWarning) -> (String, String) {
    let (bytes, count) = usage_parts(w);
    let pct = w.percent;
    let mut usage = Vec::new();
    match w.language {
        Language::En => {
            if let Some(b) = bytes {
                usage.push(format!("storage: {b}"));
            }
            if let Some((u, q)) = count {
                usage.push(format!("messages: {u} of {q}"));
            }
            let subject = format!("Your mailbox is {pct}% full");
            let body = format!(
                "Your mailbox {to} is {pct}% full ({usage}).\n\
                 \n\
                 When it is full, new mail for you is not accepted: senders are asked to\n\
                 try again later, and after a few days their mail comes back to them as\n\
                 undeliverable.\n\
                 \n\
                 To make room:\n\
                 - delete messages you no longer need, including from Trash;\n\
                 - if your mail program leaves messages on the server (\"Leave messages on\n\
                 \x20 server\", \"Keep a copy on the server\"), let it remove them sooner, for\n\
                 \x20 example after 7 days, or not keep them there at all.\n\
                 \n\
                 This message was sent automatically by {host} when your mailbox passed\n\
                 {level}% of its limit. It is delivered even when the mailbox is full.\n",
                to = w.to,
                usage = usage.join(", "),
                host = w.hostname,
                level = w.level,
            );
            (subject, body)
        }
        Language::Th => {
            if let Some(b) = bytes {
                usage.push(format!("พื้นที่: {b}"));
            }
            if let Some((u, q)) = count {
                usage.push(format!("จำนวนข้อความ: {u} จาก {q}"));
            }
            let subject = format!("กล่องจดหมายของคุณเต็มแล้ว {pct}%");
            let body = format!(
                "กล่องจดหมาย {to} ของคุณใช้พื้นที่ไปแล้ว {pct}% ({usage})\n\
                 \n\
                 เมื่อกล่องจดหมายเต็ม จะไม่สามารถรับอีเมลใหม่ได้ ผู้ส่งจะถูกขอให้ส่งใหม่ภายหลัง\n\
                 และหากยังเต็มอยู่หลายวัน อีเมลจะถูกตีกลับไปยังผู้ส่งว่าส่งไม่สำเร็จ\n\
                 \n\
                 วิธีเพิ่มพื้นที่:\n\
                 - ลบข้อความที่ไม่ต้องการแล้ว รวมถึงในถังขยะ\n\
                 - หากโปรแกรมอีเมลของคุณตั้งค่า \"เก็บสำเนาข้อความไว้บนเซิร์ฟเวอร์\" ให้ตั้งให้ลบออกจาก\n\
                 \x20 เซิร์ฟเวอร์เร็วขึ้น เช่น หลังจาก 7 วัน หรือไม่ต้องเก็บไว้บนเซิร์ฟเวอร์\n\
                 \n\
                 ข้อความนี้ส่งโดยอัตโนมัติจาก {host} เมื่อกล่องจดหมายของคุณใช้พื้นที่เกิน {level}%\n\
                 ของขีดจำกัด ข้อความนี้จะถูกส่งถึงคุณแม้กล่องจดหมายจะเต็มแล้วก็ตาม\n",
                to = w.to,
                usage = usage.join(", "),
                host = w.hostname,
                level = w.level,
            );
            (subject, body)
        }
        Language::Zh => {
            if let Some(b) = bytes {
                usage.push(format!("存储空间：{b}"));
            }
            if let Some((u, q)) = count {
                usage.push(format!("邮件数量：{u} / {q}"));
            }
            let subject = format!("您的邮箱已使用 {pct}%");
            let body = format!(
                "您的邮箱 {to} 已使用 {pct}%（{usage}）。\n\
                 \n\
                 邮箱满后将无法接收新邮件：发件人会被要求稍后重试，几天后邮件将作为\n\
                 无法投递退回给发件人。\n\
                 \n\
                 释放空间的方法：\n\
                 - 删除不再需要的邮件，包括已删除邮件文件夹中的邮件；\n\
                 - 如果您的邮件程序设置了“在服务器上保留邮件副本”，请将其改为更早从服务器\n\
                 \x20 删除（例如 7 天后），或不在服务器上保留。\n\
                 \n\
                 此邮件由 {host} 在您的邮箱使用量超过限额的 {level}% 时自动发送，\n\
                 即使邮箱已满也会送达。\n",
                to = w.to,
                usage = usage.join("，"),
                host = w.hostname,
                level = w.level,
            );
            (subject, body)
        }
    }
}

/// The whole warning message, CRLF line ends.
pub fn quota_warning(w: &QuotaWarning) -> Vec<u8> {
    let (subject, body) = quota_warning_text(w);
    let mut out = Vec::new();
    push_field(&mut out, "From", &format!("Mail System <{}>", w.from));
    push_field(&mut out, "To", &format!("<{}>", w.to));
    let subject = if subject.is_ascii() {
        subject
    } else {
        encoded_words(&subject, FOLDED_WORD_OCTETS).join(" ")
    };
    push_field(&mut out, "Subject", &subject);
    push_field(&mut out, "Date", &w.date.to_rfc2822());
    push_field(&mut out, "Message-ID", &format!("<{}>", w.message_id));
    push_field(&mut out, "Auto-Submitted", "auto-generated");
    push_field(&mut out, "MIME-Version", "1.0");
    push_field(&mut out, "Content-Type", "text/plain; charset=utf-8");
    push_field(&mut out, "Content-Transfer-Encoding", "base64");
    let lang = match w.language {
        Language::En => "en",
        Language::Th => "th",
        Language::Zh => "zh",
    };
    push_field(&mut out, "Content-Language", lang);
    out.extend_from_slice(b"\r\n");
    push_base64_body(&mut out, body.replace('\n', "\r\n").as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn warning(language: Language) -> QuotaWarning<'static> {
        QuotaWarning {
            to: "สมชาย@ตัวอย่าง.ไทย",
            from: "postmaster@xn--72c1a1bt4awk9o.xn--o3cw4h",
            hostname: "mail.example.test",
            language,
            level: 80,
            percent: 83,
            used_bytes: 415 * 1024 * 1024,
            quota_bytes: Some(500 * 1024 * 1024),
            used_messages: 10,
            quota_messages: None,
            date: DateTime::parse_from_rfc2822("Fri, 27 Nov 2026 10:00:00 +0700").unwrap(),
            message_id: "quota.1@mail.example.test",
        }
    }

    #[test]
    fn sizes_read_like_a_mail_program() {
        assert_eq!(human_size(0), "0 bytes");
        assert_eq!(human_size(1023), "1023 bytes");
        assert_eq!(human_size(1536), "1.5 KB");
        assert_eq!(human_size(500 * 1024 * 1024), "500 MB");
        assert_eq!(human_size(2 * 1024 * 1024 * 1024), "2 GB");
    }

    #[test]
    fn each_language_states_usage_limit_and_remedy() {
        for (lang, words) in [
            (
                Language::En,
                ["83% full", "415 MB of 500 MB", "Leave messages on"],
            ),
            (
                Language::Th,
                ["83%", "415 MB จาก 500 MB", "เก็บสำเนาข้อความไว้บนเซิร์ฟเวอร์"],
            ),
            (
                Language::Zh,
                ["83%", "415 MB / 500 MB", "在服务器上保留邮件副本"],
            ),
        ] {
            let (subject, body) = quota_warning_text(&warning(lang));
            assert!(subject.contains("83%"), "{subject}");
            for w in words {
                assert!(body.contains(w), "{lang:?}: {w:?} missing in {body}");
            }
            assert!(body.contains("80%"), "the threshold is named: {body}");
        }
    }

    #[test]
    fn message_is_seven_bit_with_encoded_subject() {
        let m = quota_warning(&warning(Language::Th));
        let text = String::from_utf8(m.clone()).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.contains("Subject: =?UTF-8?B?"), "{head}");
        assert!(head.contains("Auto-Submitted: auto-generated"));
        assert!(head.contains("Content-Language: th"));
        assert!(body.is_ascii());
        assert!(body.lines().all(|l| l.len() <= 76));
        // Only the To: address is UTF-8 (RFC 6532), nothing else.
        let non_ascii: Vec<&str> = head.lines().filter(|l| !l.is_ascii()).collect();
        assert_eq!(non_ascii, vec!["To: <สมชาย@ตัวอย่าง.ไทย>"]);
        let count = Some((7u64, 10u64));
        let w = QuotaWarning {
            quota_messages: count.map(|c| c.1),
            used_messages: 7,
            ..warning(Language::En)
        };
        let (_, body) = quota_warning_text(&w);
        assert!(body.contains("messages: 7 of 10"), "{body}");
    }
}
