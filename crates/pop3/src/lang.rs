//! Response texts in English, Thai and Chinese, and the language choice of
//! the `LANG` command (RFC 6856 section 3).
//!
//! Every human-readable text the session or the server writes comes from
//! `say`, so a session that chose a language gets all of its replies in
//! it. Only the texts change: the status indicator, the bracketed response
//! codes and the numbers a client parses (`+OK <size> octets`, STAT, LIST)
//! stay where RFC 1939 puts them. A session starts in English, the server's
//! default (`LANG *`), so a client that never asked sees ASCII only.

pub use praisani_message::Language;

/// Why the server could not send a message, for
/// [`Session::retrieve_failure`](crate::Session::retrieve_failure).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetrieveFailure {
    /// No maildrop is open (`[SYS/TEMP]`).
    NoMailbox,
    /// The message was removed underneath the session (`[SYS/PERM]`).
    Gone,
    /// The store cannot be read now (`[SYS/TEMP]`).
    Unreadable,
}

/// One response text, with the values it shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Text<'a> {
    TooManyPipelined,
    /// The sign-off after UPDATE.
    SignOff {
        host: &'a str,
        left: usize,
    },
    /// QUIT before login.
    Goodbye {
        host: &'a str,
    },
    DeletionsFailed,
    Autologout,
    LineTooLong,
    InvalidCharacter,
    UnknownCommand,
    InvalidArgument,
    NotInThisState,
    CapabilityList,
    AuthFailed,
    PlaintextDisallowed,
    NoUser,
    ApopUnavailable,
    LoggedIn {
        count: usize,
        octets: u64,
    },
    InUse,
    LoginDelay,
    TempFail,
    MechanismNeedsTls,
    MechanismUnsupported,
    AuthCancelled,
    AlreadyTls,
    StlsUnavailable,
    StlsAfterLogin,
    BeginTls,
    Deleted {
        n: u64,
    },
    MaildropHas {
        count: usize,
        octets: u64,
    },
    NoSuchMessage,
    AlreadyDeleted {
        n: u64,
    },
    Listing {
        count: usize,
        octets: u64,
    },
    RetrOk {
        size: u64,
    },
    TopOk,
    Utf8Enabled,
    LanguageListing,
    LanguageChanged,
    LanguageUnknown,
    Failure(RetrieveFailure),
}

/// "1 message" / "2 messages".
fn messages(n: usize) -> String {
    if n == 1 {
        "1 message".to_owned()
    } else {
        format!("{n} messages")
    }
}

/// The text in `lang`.
pub(crate) fn say(lang: Language, text: Text<'_>) -> String {
    use Language::{En, Th, Zh};
    let fixed = |en: &str, th: &str, zh: &str| {
        match lang {
            En => en,
            Th => th,
            Zh => zh,
        }
        .to_owned()
    };
    match text {
        Text::TooManyPipelined => fixed(
            "Too many pipelined commands, closing",
            "คำสั่งที่ส่งต่อเนื่องมากเกินไป กำลังปิดการเชื่อมต่อ",
            "连续发送的命令过多，正在关闭连接",
        ),
        Text::SignOff { host, left } => match lang {
            En => format!("{host} POP3 server signing off ({} left)", messages(left)),
            Th => format!("{host} เซิร์ฟเวอร์ POP3 ลาก่อน (เหลือ {left} ข้อความ)"),
            Zh => format!("{host} POP3 服务器再见（剩余 {left} 封邮件）"),
        },
        Text::Goodbye { host } => match lang {
            En => format!("{host} POP3 server signing off"),
            Th => format!("{host} เซิร์ฟเวอร์ POP3 ลาก่อน"),
            Zh => format!("{host} POP3 服务器再见"),
        },
        Text::DeletionsFailed => fixed(
            "Some deleted messages not removed",
            "ลบข้อความที่ทำเครื่องหมายไว้ไม่สำเร็จบางส่วน",
            "部分标记删除的邮件未能删除",
        ),
        Text::Autologout => fixed(
            "Autologout; idle for too long",
            "ออกจากระบบอัตโนมัติ ไม่มีการใช้งานนานเกินไป",
            "空闲时间过长，自动退出",
        ),
        Text::LineTooLong => fixed("Line too long", "บรรทัดยาวเกินไป", "行太长"),
        Text::InvalidCharacter => fixed(
            "Invalid character in command",
            "มีอักขระที่ไม่ถูกต้องในคำสั่ง",
            "命令中有无效字符",
        ),
        Text::UnknownCommand => fixed("Unknown command", "ไม่รู้จักคำสั่งนี้", "未知命令"),
        Text::InvalidArgument => fixed("Invalid argument", "อาร์กิวเมนต์ไม่ถูกต้อง", "参数无效"),
        Text::NotInThisState => fixed(
            "Command not valid in this state",
            "ใช้คำสั่งนี้ในสถานะนี้ไม่ได้",
            "当前状态下不能使用此命令",
        ),
        Text::CapabilityList => fixed(
            "Capability list follows",
            "รายการความสามารถมีดังนี้",
            "功能列表如下",
        ),
        Text::AuthFailed => fixed("Authentication failed", "ยืนยันตัวตนไม่สำเร็จ", "认证失败"),
        Text::PlaintextDisallowed => fixed(
            "Plaintext authentication disallowed on non-secure connection",
            "ไม่อนุญาตให้ยืนยันตัวตนแบบข้อความธรรมดาบนการเชื่อมต่อที่ไม่ปลอดภัย",
            "不允许在不安全的连接上使用明文认证",
        ),
        Text::NoUser => fixed("No USER given", "ยังไม่ได้ส่งคำสั่ง USER", "尚未发送 USER 命令"),
        Text::ApopUnavailable => fixed("APOP not available", "ไม่มีบริการ APOP", "APOP 不可用"),
        Text::LoggedIn { count, octets } => match lang {
            En => format!("Logged in, {} ({octets} octets)", messages(count)),
            Th => format!("เข้าสู่ระบบแล้ว มี {count} ข้อความ ({octets} ออกเต็ต)"),
            Zh => format!("已登录，{count} 封邮件（{octets} 字节）"),
        },
        Text::InUse => fixed(
            "Mailbox is locked by another session",
            "กล่องจดหมายถูกล็อกโดยเซสชันอื่น",
            "邮箱已被另一个会话锁定",
        ),
        Text::LoginDelay => fixed("Logging in too often", "เข้าสู่ระบบถี่เกินไป", "登录过于频繁"),
        Text::TempFail => fixed(
            "Temporary server failure, try again later",
            "เซิร์ฟเวอร์ขัดข้องชั่วคราว โปรดลองใหม่ภายหลัง",
            "服务器暂时故障，请稍后再试",
        ),
        Text::MechanismNeedsTls => fixed(
            "Mechanism not available on non-secure connection",
            "ใช้กลไกนี้บนการเชื่อมต่อที่ไม่ปลอดภัยไม่ได้",
            "此机制不能在不安全的连接上使用",
        ),
        Text::MechanismUnsupported => fixed(
            "Unsupported authentication mechanism",
            "ไม่รองรับกลไกการยืนยันตัวตนนี้",
            "不支持的认证机制",
        ),
        Text::AuthCancelled => fixed(
            "Authentication cancelled",
            "ยกเลิกการยืนยันตัวตนแล้ว",
            "认证已取消",
        ),
        Text::AlreadyTls => fixed("Already using TLS", "ใช้ TLS อยู่แล้ว", "已在使用 TLS"),
        Text::StlsUnavailable => fixed("STLS not available", "ไม่มีบริการ STLS", "STLS 不可用"),
        Text::StlsAfterLogin => fixed(
            "Command not permitted after USER, APOP or AUTH",
            "ใช้คำสั่งนี้หลัง USER, APOP หรือ AUTH ไม่ได้",
            "USER、APOP 或 AUTH 之后不能使用此命令",
        ),
        Text::BeginTls => fixed("Begin TLS negotiation", "เริ่มการเจรจา TLS", "开始 TLS 协商"),
        Text::Deleted { n } => match lang {
            En => format!("message {n} deleted"),
            Th => format!("ลบข้อความ {n} แล้ว"),
            Zh => format!("邮件 {n} 已删除"),
        },
        Text::MaildropHas { count, octets } => match lang {
            En => format!("maildrop has {} ({octets} octets)", messages(count)),
            Th => format!("กล่องจดหมายมี {count} ข้อความ ({octets} ออกเต็ต)"),
            Zh => format!("邮箱有 {count} 封邮件（{octets} 字节）"),
        },
        Text::NoSuchMessage => fixed("no such message", "ไม่มีข้อความนี้", "没有此邮件"),
        Text::AlreadyDeleted { n } => match lang {
            En => format!("message {n} already deleted"),
            Th => format!("ข้อความ {n} ถูกลบไปแล้ว"),
            Zh => format!("邮件 {n} 已被删除"),
        },
        Text::Listing { count, octets } => match lang {
            En => format!("{} ({octets} octets)", messages(count)),
            Th => format!("{count} ข้อความ ({octets} ออกเต็ต)"),
            Zh => format!("{count} 封邮件（{octets} 字节）"),
        },
        Text::RetrOk { size } => match lang {
            En => format!("{size} octets"),
            Th => format!("{size} ออกเต็ต"),
            Zh => format!("{size} 字节"),
        },
        Text::TopOk => fixed(
            "top of message follows",
            "ส่วนต้นของข้อความมีดังนี้",
            "邮件开头如下",
        ),
        Text::Utf8Enabled => fixed("UTF8 enabled", "เปิดใช้ UTF8 แล้ว", "已启用 UTF8"),
        Text::LanguageListing => {
            fixed("Language listing follows", "รายการภาษามีดังนี้", "语言列表如下")
        }
        Text::LanguageChanged => fixed(
            "Responses are now in English",
            "จากนี้จะตอบเป็นภาษาไทย",
            "此后以中文回复",
        ),
        Text::LanguageUnknown => fixed("Language not available", "ไม่มีภาษานี้", "不支持此语言"),
        Text::Failure(RetrieveFailure::NoMailbox) => {
            fixed("No mailbox open", "ยังไม่ได้เปิดกล่องจดหมาย", "未打开邮箱")
        }
        Text::Failure(RetrieveFailure::Gone) => fixed(
            "This message no longer exists",
            "ข้อความนี้ไม่มีอยู่แล้ว",
            "此邮件已不存在",
        ),
        Text::Failure(RetrieveFailure::Unreadable) => fixed(
            "Cannot read the message now, try again later",
            "อ่านข้อความไม่ได้ในขณะนี้ โปรดลองใหม่ภายหลัง",
            "暂时无法读取邮件，请稍后再试",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_is_ascii_and_every_text_exists_in_each_language() {
        let texts = [
            Text::TooManyPipelined,
            Text::SignOff { host: "h", left: 2 },
            Text::LoggedIn {
                count: 1,
                octets: 9,
            },
            Text::RetrOk { size: 120 },
            Text::LanguageChanged,
            Text::Failure(RetrieveFailure::Gone),
        ];
        for t in texts {
            assert!(say(Language::En, t).is_ascii());
            let th = say(Language::Th, t);
            let zh = say(Language::Zh, t);
            assert!(!th.is_ascii() && !zh.is_ascii(), "{th} / {zh}");
            assert_ne!(th, zh);
        }
        // Numbers a client may parse come first, in every language.
        for l in Language::ALL {
            assert!(say(l, Text::RetrOk { size: 120 }).starts_with("120 "));
            assert!(
                say(
                    l,
                    Text::Listing {
                        count: 3,
                        octets: 7
                    }
                )
                .starts_with("3 ")
            );
        }
    }
}
