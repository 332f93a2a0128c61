//! The notice to the postmaster (and the domain's contact) that an account
//! was put on hold, in the reader's language (English, Thai, Chinese): which account, why, what
//! happens to its mail, and the commands that release it. Written like the
//! quota warnings (UTF-8 in base64, RFC 2047 subject, `Auto-Submitted`)
//! and delivered through [`crate::reports::deliver_report`].

use crate::office::PostOffice;
use crate::reports::{self, ReportError};
use chrono::Utc;
use praisani_message::Language;
use praisani_message::base64::push_body as push_base64_body;
use praisani_message::mime::push_field;
use praisani_message::rfc2047::{FOLDED_WORD_OCTETS, encoded_words};
use praisani_store::Account;
use std::sync::Arc;

/// Subject and body text of a hold notice for `account` (as the
/// postmaster reads it), held for `reason`.
pub fn hold_notice_text(
    account: &str,
    reason: &str,
    host: &str,
    lang: Language,
) -> (String, String) {
    match lang {
        Language::En => (
            format!("Account {account} put on hold"),
            format!(
                "The account {account} was put on hold by {host}.\n\
                 \n\
                 Reason: {reason}\n\
                 \n\
                 Its password may have been stolen and used to send spam. While it is\n\
                 on hold, new mail from it is refused (its mail program is told to try\n\
                 again later) and its mail waiting in the outbound queue is held, not\n\
                 sent. Receiving and reading mail (POP3) still works.\n\
                 \n\
                 What to do:\n\
                 - check with the account's owner; change its password if in doubt:\n\
                 \x20 praisani user passwd {account}\n\
                 - see its held mail: praisani queue list\n\
                 - release it and send its held mail:\n\
                 \x20 praisani user release {account}\n\
                 - or release it and delete its held mail (spam):\n\
                 \x20 praisani user release {account} --delete\n"
            ),
        ),
        Language::Th => (
            format!("บัญชี {account} ถูกระงับการส่งอีเมล"),
            format!(
                "บัญชี {account} ถูกระงับการส่งอีเมลโดย {host}\n\
                 \n\
                 เหตุผล: {reason}\n\
                 \n\
                 รหัสผ่านของบัญชีนี้อาจถูกขโมยและนำไปใช้ส่งสแปม ระหว่างที่ถูกระงับ อีเมลใหม่จากบัญชีนี้\n\
                 จะถูกปฏิเสธ (โปรแกรมอีเมลจะได้รับแจ้งให้ส่งใหม่ภายหลัง) และอีเมลที่รอส่งอยู่ในคิว\n\
                 จะถูกพักไว้ ไม่ถูกส่งออกไป ส่วนการรับและอ่านอีเมล (POP3) ยังใช้งานได้ตามปกติ\n\
                 \n\
                 สิ่งที่ควรทำ:\n\
                 - ตรวจสอบกับเจ้าของบัญชี หากไม่แน่ใจให้เปลี่ยนรหัสผ่าน:\n\
                 \x20 praisani user passwd {account}\n\
                 - ดูอีเมลที่ถูกพักไว้: praisani queue list\n\
                 - ยกเลิกการระงับและส่งอีเมลที่พักไว้:\n\
                 \x20 praisani user release {account}\n\
                 - หรือยกเลิกการระงับและลบอีเมลที่พักไว้ (สแปม):\n\
                 \x20 praisani user release {account} --delete\n"
            ),
        ),
        Language::Zh => (
            format!("账户 {account} 已被暂停发信"),
            format!(
                "{host} 已暂停账户 {account} 的发信。\n\
                 \n\
                 原因：{reason}\n\
                 \n\
                 该账户的密码可能已被盗用于发送垃圾邮件。暂停期间，该账户的新邮件将被拒绝\n\
                 （其邮件程序会被告知稍后重试），发件队列中等待发送的邮件将被保留，不会发出。\n\
                 收信和读信（POP3）仍可正常使用。\n\
                 \n\
                 处理方法：\n\
                 - 与账户所有者确认；如有疑问请修改密码：\n\
                 \x20 praisani user passwd {account}\n\
                 - 查看被保留的邮件：praisani queue list\n\
                 - 解除暂停并发送被保留的邮件：\n\
                 \x20 praisani user release {account}\n\
                 - 或解除暂停并删除被保留的邮件（垃圾邮件）：\n\
                 \x20 praisani user release {account} --delete\n"
            ),
        ),
    }
}

/// The whole notice message to `to`, CRLF line ends.
pub fn hold_notice(
    to: &str,
    from: &str,
    account: &str,
    reason: &str,
    host: &str,
    lang: Language,
    message_id: &str,
) -> Vec<u8> {
    let (subject, body) = hold_notice_text(account, reason, host, lang);
    let mut out = Vec::new();
    push_field(&mut out, "From", &format!("Mail System <{from}>"));
    push_field(&mut out, "To", &format!("<{to}>"));
    let subject = if subject.is_ascii() {
        subject
    } else {
        encoded_words(&subject, FOLDED_WORD_OCTETS).join(" ")
    };
    push_field(&mut out, "Subject", &subject);
    push_field(&mut out, "Date", &Utc::now().fixed_offset().to_rfc2822());
    push_field(&mut out, "Message-ID", &format!("<{message_id}>"));
    push_field(&mut out, "Auto-Submitted", "auto-generated");
    push_field(&mut out, "MIME-Version", "1.0");
    push_field(&mut out, "Content-Type", "text/plain; charset=utf-8");
    push_field(&mut out, "Content-Transfer-Encoding", "base64");
    push_field(&mut out, "Content-Language", lang.tag());
    out.extend_from_slice(b"\r\n");
    push_base64_body(&mut out, body.replace('\n', "\r\n").as_bytes());
    out
}

/// Tells the postmaster (`postmaster` in the configuration) that
/// `account` was put on hold for `reason`, in the account's language, and
/// the account's domain contact (`praisani domain contact`) in theirs —
/// once if they are the same address. Without either the hold is only
/// logged. The first failure is answered after both were tried.
pub async fn send(
    office: &Arc<PostOffice>,
    account: &Account,
    reason: &str,
) -> Result<(), ReportError> {
    let contact = match office.store.domain_list().await {
        Ok(domains) => domains
            .into_iter()
            .find(|d| d.domain == *account.address.domain())
            .and_then(|d| d.contact),
        Err(e) => {
            tracing::warn!(account = %account.address, "domain contact unknown: {e}");
            None
        }
    };
    let mut to: Vec<(String, Language)> = Vec::new();
    if let Some(postmaster) = &office.settings.postmaster {
        to.push((postmaster.to_string(), account.lang));
    }
    if let Some(c) = contact {
        let address = c.address.to_string();
        if !to.iter().any(|(a, _)| a.eq_ignore_ascii_case(&address)) {
            to.push((address, c.lang));
        }
    }
    if to.is_empty() {
        tracing::warn!(account = %account.address, "no postmaster or domain contact configured: the hold notice goes nowhere");
        return Ok(());
    }
    let host = &office.settings.hostname;
    let shown = format!(
        "{}@{}",
        account.address.local(),
        account.address.domain().unicode()
    );
    let from = format!("postmaster@{}", account.address.domain().ascii());
    let mut first_error = None;
    for (n, (to, lang)) in to.iter().enumerate() {
        let message_id = format!("hold.{}.{}.{n}@{host}", account.id, Utc::now().timestamp());
        let text = hold_notice(to, &from, &shown, reason, host, *lang, &message_id);
        if let Err(e) = reports::deliver_report(office, to, !to.is_ascii(), &text).await {
            tracing::error!(account = %account.address, to = %to, "hold notice failed: {e}");
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_language_names_the_account_the_reason_and_the_release() {
        for lang in [Language::En, Language::Th, Language::Zh] {
            let (subject, body) =
                hold_notice_text("a@example.test", "3 messages per hour", "mx.test", lang);
            assert!(subject.contains("a@example.test"), "{subject}");
            for w in [
                "3 messages per hour",
                "praisani user release a@example.test",
                "--delete",
                "mx.test",
            ] {
                assert!(body.contains(w), "{lang:?}: {w:?} missing in {body}");
            }
        }
    }
}
