//! The human-readable part of a report and its subject, in English, Thai and
//! (Simplified) Chinese. Every sentence is written for its language rather
//! than translated word by word; placeholders are `{host}`, `{size}`, `{max}`.

use super::{Action, Language};
use chrono::{DateTime, FixedOffset};

/// What the report is mainly about, which picks the subject and the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    /// At least one recipient failed.
    Failed,
    /// None failed, at least one is delayed.
    Delayed,
    /// Every recipient was delivered, relayed or expanded.
    Success,
}

/// What part 3 carries, and why, so the text can say so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ReturnNote {
    /// The original was empty: nothing is attached.
    Nothing,
    /// The whole message is attached.
    Full,
    /// Only the headers, as asked (RET=HDRS) or because nothing failed.
    Headers,
    /// Only the headers: the full message exceeds the size limit.
    TooLarge { size: usize, max: usize },
    /// Only the headers: the message has lines SMTP cannot carry.
    Unfit,
}

/// One recipient as people read it: plain address, no type prefixes.
#[derive(Debug, Clone)]
pub(super) struct Line {
    pub address: String,
    pub action: Action,
    pub status: String,
    pub remote_mta: Option<String>,
    pub reply: Option<String>,
    pub last_attempt: Option<DateTime<FixedOffset>>,
    pub retry_until: Option<DateTime<FixedOffset>>,
}

pub(super) struct Texts {
    /// BCP 47 tag for Content-Language.
    pub tag: &'static str,
    subject_failed: &'static str,
    subject_delayed: &'static str,
    subject_success: &'static str,
    intro: &'static str,
    summary_failed: &'static str,
    summary_delayed: &'static str,
    summary_success: &'static str,
    colon: &'static str,
    result: &'static str,
    status: &'static str,
    remote: &'static str,
    reply: &'static str,
    last_attempt: &'static str,
    retry_until: &'static str,
    failed: &'static str,
    delayed: &'static str,
    delivered: &'static str,
    relayed: &'static str,
    expanded: &'static str,
    note_full: &'static str,
    note_headers: &'static str,
    note_too_large: &'static str,
    note_unfit: &'static str,
    closing: &'static str,
}

const EN: Texts = Texts {
    tag: "en",
    subject_failed: "Undelivered Mail Returned to Sender",
    subject_delayed: "Delayed Mail (still being retried)",
    subject_success: "Successful Mail Delivery Report",
    intro: "This is the mail system at host {host}.",
    summary_failed: "Your message could not be delivered to one or more of its recipients, \
                     and the mail system has stopped trying. The details are below.",
    summary_delayed: "Your message has not yet been delivered to one or more of its recipients. \
                      The mail system will keep trying, so there is no need to send it again. \
                      The details are below.",
    summary_success: "Your message was delivered to the recipients below.",
    colon: ": ",
    result: "Result",
    status: "Status",
    remote: "Remote server",
    reply: "Server reply",
    last_attempt: "Last attempt",
    retry_until: "Will keep trying until",
    failed: "delivery failed; it will not be retried",
    delayed: "delayed; still trying",
    delivered: "delivered",
    relayed: "passed on to a system that does not send delivery reports",
    expanded: "passed on to the members of this address",
    note_full: "A copy of your message is attached.",
    note_headers: "The headers of your message are attached.",
    note_too_large: "Your message was too large to return in full ({size} bytes; the limit is \
                     {max} bytes), so only its headers are attached.",
    note_unfit: "Your message could not be attached unchanged because it has lines longer than \
                 mail transport allows, so only its headers are attached.",
    closing: "This report was generated automatically; please do not reply to it.",
};

const TH: Texts = Texts {
    tag: "th",
    subject_failed: "ส่งอีเมลไม่สำเร็จ ข้อความถูกส่งคืนถึงผู้ส่ง",
    subject_delayed: "การส่งอีเมลล่าช้า (ระบบยังพยายามส่งอยู่)",
    subject_success: "รายงานการส่งอีเมลสำเร็จ",
    intro: "นี่คือข้อความจากระบบส่งอีเมลของเซิร์ฟเวอร์ {host}",
    summary_failed: "ขออภัย ระบบไม่สามารถส่งข้อความของคุณถึงผู้รับบางรายหรือทั้งหมดได้ \
                     และได้หยุดพยายามส่งแล้ว รายละเอียดมีดังนี้",
    summary_delayed: "ข้อความของคุณยังส่งไม่ถึงผู้รับบางราย ระบบจะพยายามส่งต่อไปโดยอัตโนมัติ \
                      คุณจึงไม่จำเป็นต้องส่งข้อความนี้ใหม่ รายละเอียดมีดังนี้",
    summary_success: "ข้อความของคุณถูกส่งถึงผู้รับต่อไปนี้เรียบร้อยแล้ว",
    colon: ": ",
    result: "ผลการส่ง",
    status: "รหัสสถานะ",
    remote: "เซิร์ฟเวอร์ปลายทาง",
    reply: "คำตอบจากเซิร์ฟเวอร์",
    last_attempt: "พยายามส่งครั้งล่าสุดเมื่อ",
    retry_until: "จะพยายามส่งต่อไปจนถึง",
    failed: "ส่งไม่สำเร็จ และจะไม่พยายามส่งอีก",
    delayed: "ล่าช้า ระบบยังคงพยายามส่งอยู่",
    delivered: "ส่งถึงผู้รับแล้ว",
    relayed: "ส่งต่อไปยังระบบที่ไม่รายงานผลการส่งกลับมา",
    expanded: "ส่งต่อไปยังสมาชิกทุกคนของที่อยู่นี้แล้ว",
    note_full: "สำเนาข้อความของคุณแนบมาด้านล่างนี้",
    note_headers: "ส่วนหัวของข้อความของคุณแนบมาด้านล่างนี้",
    note_too_large: "ข้อความของคุณมีขนาดใหญ่เกินกว่าจะส่งคืนทั้งฉบับได้ ({size} ไบต์ \
                     ขณะที่ขีดจำกัดคือ {max} ไบต์) จึงแนบมาเฉพาะส่วนหัวของข้อความ",
    note_unfit: "ไม่สามารถแนบข้อความของคุณทั้งฉบับได้ เนื่องจากมีบรรทัดที่ยาวเกินกว่าที่ระบบอีเมลรองรับ \
                 จึงแนบมาเฉพาะส่วนหัวของข้อความ",
    closing: "รายงานนี้สร้างขึ้นโดยอัตโนมัติ กรุณาอย่าตอบกลับ",
};

const ZH: Texts = Texts {
    tag: "zh-Hans",
    subject_failed: "邮件无法投递，已退回发件人",
    subject_delayed: "邮件投递延迟（系统仍在重试）",
    subject_success: "邮件投递成功通知",
    intro: "这是来自 {host} 邮件系统的自动通知。",
    summary_failed: "很抱歉，您的邮件无法投递给以下部分或全部收件人，系统已停止尝试投递。详细信息如下：",
    summary_delayed: "您的邮件暂时未能送达以下部分收件人。系统会继续自动重试，您无需重新发送。详细信息如下：",
    summary_success: "您的邮件已成功送达以下收件人：",
    colon: "：",
    result: "投递结果",
    status: "状态码",
    remote: "对方服务器",
    reply: "服务器回复",
    last_attempt: "最后尝试时间",
    retry_until: "将持续重试至",
    failed: "投递失败，不再重试",
    delayed: "投递延迟，仍在重试",
    delivered: "已送达",
    relayed: "已转交给不回传投递报告的系统",
    expanded: "已转发给该地址的全部成员",
    note_full: "随附您的原始邮件副本。",
    note_headers: "随附您的原始邮件的邮件头。",
    note_too_large: "您的邮件过大（{size} 字节，上限为 {max} 字节），无法完整退回，因此仅附上邮件头。",
    note_unfit: "您的邮件包含超出邮件传输限制的过长行，无法原样附上，因此仅附上邮件头。",
    closing: "此邮件由系统自动发送，请勿回复。",
};

pub(super) fn texts(language: Language) -> &'static Texts {
    match language {
        Language::En => &EN,
        Language::Th => &TH,
        Language::Zh => &ZH,
    }
}

pub(super) fn subject(language: Language, outcome: Outcome) -> &'static str {
    let t = texts(language);
    match outcome {
        Outcome::Failed => t.subject_failed,
        Outcome::Delayed => t.subject_delayed,
        Outcome::Success => t.subject_success,
    }
}

/// The text of part 1, LF line ends (the builder turns them into CRLF).
pub(super) fn human(
    language: Language,
    host: &str,
    outcome: Outcome,
    lines: &[Line],
    note: ReturnNote,
) -> String {
    let t = texts(language);
    let mut out = String::new();
    out.push_str(&t.intro.replace("{host}", host));
    out.push_str("\n\n");
    out.push_str(match outcome {
        Outcome::Failed => t.summary_failed,
        Outcome::Delayed => t.summary_delayed,
        Outcome::Success => t.summary_success,
    });
    out.push('\n');
    let item = |out: &mut String, label: &str, value: &str| {
        out.push_str("    ");
        out.push_str(label);
        out.push_str(t.colon);
        out.push_str(value);
        out.push('\n');
    };
    for line in lines {
        out.push('\n');
        out.push_str(&line.address);
        out.push('\n');
        let result = match line.action {
            Action::Failed => t.failed,
            Action::Delayed => t.delayed,
            Action::Delivered => t.delivered,
            Action::Relayed => t.relayed,
            Action::Expanded => t.expanded,
        };
        item(&mut out, t.result, result);
        item(&mut out, t.status, &line.status);
        if let Some(remote) = &line.remote_mta {
            item(&mut out, t.remote, remote);
        }
        if let Some(reply) = &line.reply {
            item(&mut out, t.reply, reply);
        }
        if let Some(at) = line.last_attempt {
            item(&mut out, t.last_attempt, &at.to_rfc2822());
        }
        if let (Action::Delayed, Some(until)) = (line.action, line.retry_until) {
            item(&mut out, t.retry_until, &until.to_rfc2822());
        }
    }
    let note = match note {
        ReturnNote::Nothing => None,
        ReturnNote::Full => Some(t.note_full.to_string()),
        ReturnNote::Headers => Some(t.note_headers.to_string()),
        ReturnNote::TooLarge { size, max } => Some(
            t.note_too_large
                .replace("{size}", &size.to_string())
                .replace("{max}", &max.to_string()),
        ),
        ReturnNote::Unfit => Some(t.note_unfit.to_string()),
    };
    if let Some(note) = note {
        out.push('\n');
        out.push_str(&note);
        out.push('\n');
    }
    out.push('\n');
    out.push_str(t.closing);
    out.push('\n');
    out
}
