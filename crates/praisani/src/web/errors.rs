//! Why a form was refused, in the page's language. The shared admin
//! functions ([`AdminError`]) speak English, which the API and the CLI
//! keep; the web admin says the same thing — with the same address, limit
//! or size — in English, Thai or Chinese. An error not named here shows a
//! translated generic text with the English detail after it.

use super::text::texts;
use praisani_mailhost::admin::AdminError;
use praisani_mailhost::admin::forwarding::{ForwardError, MAX_TARGETS};
use praisani_mailhost::admin::vacation::VacationError;
use praisani_mailhost::vacation::MAX_SUBJECT;
use praisani_message::Language;
use praisani_store::limits::{LimitRefusal, size};
use praisani_store::{Conflict, StoreError, Subject};

/// The text in `lang` of three already filled in.
fn pick(lang: Language, en: String, th: String, zh: String) -> String {
    match lang {
        Language::En => en,
        Language::Th => th,
        Language::Zh => zh,
    }
}

/// `e` as a page in `lang` shows it.
pub(crate) fn explain(lang: Language, e: &AdminError) -> String {
    mapped(lang, e).unwrap_or_else(|| format!("{}: {e}", texts(lang).bad_request))
}

/// `e` in `lang`, when it is one a web form can meet and is translated.
fn mapped(lang: Language, e: &AdminError) -> Option<String> {
    use AdminError as A;
    let t = texts(lang);
    Some(match e {
        A::InvalidAddress(a) => pick(
            lang,
            format!("{a:?} is not a valid mail address."),
            format!("{a:?} ไม่ใช่ที่อยู่อีเมลที่ถูกต้อง"),
            format!("{a:?} 不是有效的邮件地址。"),
        ),
        A::InvalidDomain(d) => pick(
            lang,
            format!("{d:?} is not a valid domain name."),
            format!("{d:?} ไม่ใช่ชื่อโดเมนที่ถูกต้อง"),
            format!("{d:?} 不是有效的域名。"),
        ),
        A::InvalidQuota(q) => pick(
            lang,
            format!("{q:?} is not a size (for example 500M, 2G or unlimited)."),
            format!("{q:?} ไม่ใช่ขนาดที่ถูกต้อง (เช่น 500M, 2G หรือ unlimited)"),
            format!("{q:?} 不是有效的大小（例如 500M、2G 或 unlimited）。"),
        ),
        A::UnknownDomain(d) | A::NotHosted(d) => not_hosted(lang, &d.unicode()),
        A::PasswordControlCharacters => pick(
            lang,
            "The password contains control characters.".into(),
            "รหัสผ่านมีอักขระควบคุม ซึ่งใช้ไม่ได้".into(),
            "密码不能包含控制字符。".into(),
        ),
        A::ReservedAddress(a) => pick(
            lang,
            format!("{a} is reserved for the domain's catch-all."),
            format!("{a} สงวนไว้สำหรับรับอีเมลทั้งหมดของโดเมน (catch-all)"),
            format!("{a} 已保留给本域名的全收地址（catch-all）。"),
        ),
        A::AliasToItself(a) => pick(
            lang,
            format!("The alias {a} cannot point at itself."),
            format!("ชื่อแทน {a} ชี้กลับมาที่ตัวเองไม่ได้"),
            format!("别名 {a} 不能指向自己。"),
        ),
        A::NoTargets | A::Forward(ForwardError::NoTargets) => no_targets(lang),
        A::Forward(ForwardError::TooMany) => pick(
            lang,
            format!("At most {MAX_TARGETS} forwarding addresses."),
            format!("ส่งต่อได้ไม่เกิน {MAX_TARGETS} ที่อยู่"),
            format!("最多只能转发到 {MAX_TARGETS} 个地址。"),
        ),
        A::Forward(ForwardError::ToItself) => pick(
            lang,
            format!(
                "A mailbox cannot forward to itself; tick \u{201c}{}\u{201d} to keep a copy.",
                t.keep_copy
            ),
            format!(
                "ส่งต่อไปยังกล่องจดหมายของตัวเองไม่ได้ หากต้องการเก็บสำเนา ให้เลือก \u{201c}{}\u{201d}",
                t.keep_copy
            ),
            format!(
                "邮箱不能转发给自己；如需保留副本，请勾选\u{201c}{}\u{201d}。",
                t.keep_copy
            ),
        ),
        A::Vacation(v) => vacation(lang, v)?,
        A::Store(s) => store(lang, s)?,
        _ => return None,
    })
}

fn not_hosted(lang: Language, d: &str) -> String {
    pick(
        lang,
        format!("The domain {d} is not hosted here."),
        format!("โดเมน {d} ไม่ได้อยู่บนเซิร์ฟเวอร์นี้"),
        format!("域名 {d} 不在本服务器上。"),
    )
}

fn no_targets(lang: Language) -> String {
    pick(
        lang,
        "Give at least one target address.".into(),
        "กรุณาระบุที่อยู่ปลายทางอย่างน้อยหนึ่งที่อยู่".into(),
        "请至少填写一个目标地址。".into(),
    )
}

fn vacation(lang: Language, v: &VacationError) -> Option<String> {
    use VacationError as V;
    Some(match v {
        V::InvalidDate(d) => pick(
            lang,
            format!("{d:?} is not a date (YYYY-MM-DD, for example 2027-01-31)."),
            format!("{d:?} ไม่ใช่วันที่ที่ถูกต้อง (รูปแบบ YYYY-MM-DD เช่น 2027-01-31)"),
            format!("{d:?} 不是有效日期（格式 YYYY-MM-DD，例如 2027-01-31）。"),
        ),
        V::UntilBeforeFrom { from, until } => pick(
            lang,
            format!("The last day ({until}) is before the first day ({from})."),
            format!("วันสุดท้าย ({until}) อยู่ก่อนวันแรก ({from})"),
            format!("结束日期（{until}）早于开始日期（{from}）。"),
        ),
        V::EmptyText => pick(
            lang,
            "The reply text is empty.".into(),
            "กรุณาใส่ข้อความตอบกลับ".into(),
            "请填写自动回复的内容。".into(),
        ),
        V::TextTooLarge(n, max) => pick(
            lang,
            format!("The text is too long: {n} bytes, at most {max} are allowed."),
            format!("ข้อความยาวเกินไป: {n} ไบต์ (ได้ไม่เกิน {max} ไบต์)"),
            format!("内容过长：{n} 字节，最多允许 {max} 字节。"),
        ),
        V::SubjectTooLong => pick(
            lang,
            format!("The subject is longer than {MAX_SUBJECT} characters."),
            format!("หัวเรื่องยาวเกิน {MAX_SUBJECT} ตัวอักษร"),
            format!("主题不能超过 {MAX_SUBJECT} 个字符。"),
        ),
        V::BadInterval(_) | V::NotUtf8 => return None,
    })
}

fn store(lang: Language, s: &StoreError) -> Option<String> {
    Some(match s {
        StoreError::Duplicate(Subject::Address(a) | Subject::Account(a) | Subject::Alias(a)) => {
            pick(
                lang,
                format!("{a} already exists."),
                format!("{a} มีอยู่แล้ว"),
                format!("{a} 已存在。"),
            )
        }
        StoreError::NotFound(Subject::Account(a)) => pick(
            lang,
            format!("There is no mailbox {a}."),
            format!("ไม่พบกล่องจดหมาย {a}"),
            format!("邮箱 {a} 不存在。"),
        ),
        StoreError::NotFound(Subject::Alias(a)) => pick(
            lang,
            format!("There is no alias {a}."),
            format!("ไม่พบชื่อแทน {a}"),
            format!("别名 {a} 不存在。"),
        ),
        StoreError::NotFound(Subject::Domain(d)) => not_hosted(lang, &d.unicode()),
        StoreError::Conflict(Conflict::AliasWithoutTargets) => no_targets(lang),
        StoreError::Conflict(Conflict::Limit(l)) => limit(lang, l),
        StoreError::Unavailable(_) => texts(lang).unavailable.to_string(),
        _ => return None,
    })
}

fn limit(lang: Language, l: &LimitRefusal) -> String {
    use LimitRefusal as L;
    match l {
        L::Mailboxes { domain, limit } => {
            let d = domain.unicode();
            pick(
                lang,
                format!("{d} has reached its limit of {limit} mailbox(es)."),
                format!("โดเมน {d} มีกล่องจดหมายครบ {limit} กล่องตามที่กำหนดแล้ว"),
                format!("域名 {d} 的邮箱数量已达上限（{limit} 个）。"),
            )
        }
        L::Aliases { domain, limit } => {
            let d = domain.unicode();
            pick(
                lang,
                format!("{d} has reached its limit of {limit} alias(es)."),
                format!("โดเมน {d} มีชื่อแทนครบ {limit} รายการตามที่กำหนดแล้ว"),
                format!("域名 {d} 的别名数量已达上限（{limit} 个）。"),
            )
        }
        L::MailboxQuota { domain, limit } => {
            let (d, n) = (domain.unicode(), size(*limit));
            pick(
                lang,
                format!("A mailbox of {d} may have a quota of at most {n}."),
                format!("กล่องจดหมายของ {d} ตั้งโควตาได้ไม่เกิน {n}"),
                format!("{d} 的每个邮箱配额最多为 {n}。"),
            )
        }
        L::Unlimited { domain } => {
            let d = domain.unicode();
            pick(
                lang,
                format!("Mailboxes of {d} need a quota; unlimited is not allowed."),
                format!("กล่องจดหมายของ {d} ต้องกำหนดโควตา ตั้งเป็นไม่จำกัดไม่ได้"),
                format!("{d} 的邮箱必须设置配额，不能设为不限。"),
            )
        }
        L::TotalQuota {
            domain,
            limit,
            allotted,
            asked,
        } => {
            let (d, n, have, more) = (
                domain.unicode(),
                size(*limit),
                size(*allotted),
                size(*asked),
            );
            pick(
                lang,
                format!(
                    "The quotas of {d}'s mailboxes may add up to at most {n}: {have} are handed out, {more} more asked."
                ),
                format!(
                    "โควตารวมของทุกกล่องจดหมายใน {d} ต้องไม่เกิน {n} (จัดสรรไปแล้ว {have} ขอเพิ่มอีก {more})"
                ),
                format!("{d} 所有邮箱的配额合计不能超过 {n}（已分配 {have}，本次申请 {more}）。"),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use praisani_mailaddr::{Address, Domain};

    /// Every error a web form can meet, with the value its text must name.
    fn cases() -> Vec<(AdminError, String)> {
        let d = Domain::parse("example.test").unwrap();
        let a = Address::parse("bob@example.test").unwrap();
        let from = NaiveDate::from_ymd_opt(2027, 1, 31).unwrap();
        let until = NaiveDate::from_ymd_opt(2027, 1, 2).unwrap();
        let store = |e: StoreError| AdminError::Store(e);
        vec![
            (AdminError::InvalidAddress("b@@x".into()), "b@@x".into()),
            (
                AdminError::InvalidDomain("ex..test".into()),
                "ex..test".into(),
            ),
            (AdminError::InvalidQuota("lots".into()), "lots".into()),
            (AdminError::NotHosted(d.clone()), "example.test".into()),
            (AdminError::UnknownDomain(d.clone()), "example.test".into()),
            (AdminError::PasswordControlCharacters, String::new()),
            (AdminError::ReservedAddress(a.clone()), a.to_string()),
            (AdminError::AliasToItself(a.clone()), a.to_string()),
            (AdminError::NoTargets, String::new()),
            (ForwardError::NoTargets.into(), String::new()),
            (ForwardError::TooMany.into(), MAX_TARGETS.to_string()),
            (ForwardError::ToItself.into(), String::new()),
            (
                VacationError::InvalidDate("31.1.".into()).into(),
                "31.1.".into(),
            ),
            (
                VacationError::UntilBeforeFrom { from, until }.into(),
                "2027-01-02".into(),
            ),
            (VacationError::EmptyText.into(), String::new()),
            (
                VacationError::TextTooLarge(9000, 4096).into(),
                "4096".into(),
            ),
            (
                VacationError::SubjectTooLong.into(),
                MAX_SUBJECT.to_string(),
            ),
            (
                store(StoreError::Duplicate(Subject::Address(a.clone()))),
                a.to_string(),
            ),
            (
                store(StoreError::Duplicate(Subject::Account(a.clone()))),
                a.to_string(),
            ),
            (
                store(StoreError::Duplicate(Subject::Alias(a.clone()))),
                a.to_string(),
            ),
            (
                store(StoreError::NotFound(Subject::Account(a.clone()))),
                a.to_string(),
            ),
            (
                store(StoreError::NotFound(Subject::Alias(a.clone()))),
                a.to_string(),
            ),
            (
                store(StoreError::NotFound(Subject::Domain(d.clone()))),
                "example.test".into(),
            ),
            (store(Conflict::AliasWithoutTargets.into()), String::new()),
            (
                store(praisani_store::Unavailable::WriterStopped.into()),
                String::new(),
            ),
            (
                store(
                    LimitRefusal::Mailboxes {
                        domain: d.clone(),
                        limit: 7,
                    }
                    .into(),
                ),
                "7".into(),
            ),
            (
                store(
                    LimitRefusal::Aliases {
                        domain: d.clone(),
                        limit: 3,
                    }
                    .into(),
                ),
                "3".into(),
            ),
            (
                store(
                    LimitRefusal::MailboxQuota {
                        domain: d.clone(),
                        limit: 2 << 30,
                    }
                    .into(),
                ),
                "2G".into(),
            ),
            (
                store(LimitRefusal::Unlimited { domain: d.clone() }.into()),
                "example.test".into(),
            ),
            (
                store(
                    LimitRefusal::TotalQuota {
                        domain: d,
                        limit: 10 << 30,
                        allotted: 9 << 30,
                        asked: 500 << 20,
                    }
                    .into(),
                ),
                "500M".into(),
            ),
        ]
    }

    #[test]
    fn every_form_error_is_translated_with_its_value() {
        for (e, value) in cases() {
            let en = explain(Language::En, &e);
            assert!(mapped(Language::En, &e).is_some(), "not mapped: {e:?}");
            for lang in [Language::En, Language::Th, Language::Zh] {
                let text = explain(lang, &e);
                assert!(text.contains(&value), "{lang:?} {e:?}: {text}");
                if lang != Language::En {
                    assert_ne!(text, en, "{lang:?} {e:?} is English");
                    // No English words slip through (values and the
                    // examples of sizes aside).
                    assert!(
                        !text.contains(" is ") && !text.contains(" the "),
                        "{lang:?} {e:?}: {text}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_rest_falls_back_to_the_english_detail_under_a_translated_text() {
        let e = AdminError::MessageLimitTooLarge(u64::MAX);
        let th = explain(Language::Th, &e);
        assert!(th.starts_with(texts(Language::Th).bad_request), "{th}");
        assert!(th.contains(&e.to_string()), "{th}");
    }

    #[test]
    fn the_password_form_texts_are_translated() {
        for lang in [Language::Th, Language::Zh] {
            let (t, en) = (texts(lang), texts(Language::En));
            assert_ne!(t.passwords_differ, en.passwords_differ);
            assert_ne!(t.wrong_password, en.wrong_password);
        }
    }
}
