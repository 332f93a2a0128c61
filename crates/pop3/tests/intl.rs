//! RFC 6856: the UTF8 command and UTF-8 credentials, and LANG with English, Thai and
//! Chinese response texts.

mod common;

use common::*;
use praisani_pop3::{AuthOutcome, Config, Credential, Event, Language, RetrieveFailure, State};

const THAI_USER: &str = "สมชาย@ตัวอย่าง.ไทย";

#[test]
fn utf8_user_and_password_with_and_without_the_utf8_command() {
    // Without UTF8: the octets are UTF-8 all the same, and the session stays in
    // legacy mode (the server then lists downgraded messages).
    let mut s = session();
    assert!(!s.utf8());
    assert_eq!(reply(&mut s, &format!("USER {THAI_USER}\r\n")), "+OK\r\n");
    let events = run(&mut s, "PASS รหัสผ่าน\r\n");
    assert_eq!(
        events,
        vec![Event::Authenticate {
            user: THAI_USER.into(),
            credential: Credential::Password("รหัสผ่าน".into()),
        }]
    );
    s.auth_result(AuthOutcome::Ok {
        messages: messages(),
    });
    drain(&mut s);
    assert!(!s.utf8());

    let mut s = session();
    assert_eq!(reply(&mut s, "UTF8\r\n"), "+OK UTF8 enabled\r\n");
    assert!(s.utf8());
    assert_eq!(reply(&mut s, &format!("USER {THAI_USER}\r\n")), "+OK\r\n");
    let events = run(&mut s, "PASS รหัส ผ่าน\r\n");
    assert_eq!(
        events,
        vec![Event::Authenticate {
            user: THAI_USER.into(),
            credential: Credential::Password("รหัส ผ่าน".into()),
        }]
    );
    s.auth_result(AuthOutcome::Ok {
        messages: messages(),
    });
    assert!(sent(&drain(&mut s)).starts_with("+OK Logged in"));
    // UTF8 is an AUTHORIZATION command: the maildrop was listed for the client's mode.
    assert_eq!(
        reply(&mut s, "UTF8\r\n"),
        "-ERR Command not valid in this state\r\n"
    );
    assert!(s.utf8());
}

#[test]
fn apop_takes_a_utf8_name_after_utf8() {
    let mut s = session();
    reply(&mut s, "UTF8\r\n");
    let events = run(
        &mut s,
        "APOP 用户@例子.中国 c4c9334bac560ecc979e58001b3e22fb\r\n",
    );
    assert!(
        matches!(&events[..], [Event::Authenticate { user, credential: Credential::Apop { .. } }] if user == "用户@例子.中国"),
        "{events:?}"
    );
}

#[test]
fn utf8_off_means_unknown_command() {
    let mut s = session_with(Config {
        utf8: false,
        ..config()
    });
    assert_eq!(reply(&mut s, "UTF8\r\n"), "-ERR Unknown command\r\n");
    assert!(!s.utf8());
    let caps = reply(&mut s, "CAPA\r\n");
    assert!(!caps.contains("UTF8"), "{caps}");
}

#[test]
fn utf8_forgets_a_pending_user() {
    let mut s = session();
    assert_eq!(reply(&mut s, "USER alice\r\n"), "+OK\r\n");
    reply(&mut s, "UTF8\r\n");
    assert_eq!(reply(&mut s, "PASS x\r\n"), "-ERR No USER given\r\n");
}

#[test]
fn lang_lists_and_switches_in_both_states() {
    let mut s = session();
    let listing = reply(&mut s, "LANG\r\n");
    assert_eq!(
        listing,
        "+OK Language listing follows\r\nen English\r\nth ไทย\r\nzh 中文\r\n.\r\n"
    );
    assert_eq!(
        reply(&mut s, "LANG th\r\n"),
        "+OK th จากนี้จะตอบเป็นภาษาไทย\r\n"
    );
    assert_eq!(s.language(), Language::Th);
    // Errors come in the current language.
    assert_eq!(reply(&mut s, "LANG fr\r\n"), "-ERR ไม่มีภาษานี้\r\n");
    assert_eq!(reply(&mut s, "NOPE\r\n"), "-ERR ไม่รู้จักคำสั่งนี้\r\n");
    assert!(reply(&mut s, "LANG\r\n").starts_with("+OK รายการภาษามีดังนี้\r\n"));
    // The login reply, and everything after it, in Thai; numbers stay first.
    login_with_lang(&mut s);
    assert_eq!(s.state(), State::Transaction);
    assert_eq!(reply(&mut s, "STAT\r\n"), "+OK 3 600\r\n");
    assert_eq!(reply(&mut s, "LIST 2\r\n"), "+OK 2 200\r\n");
    assert!(reply(&mut s, "LIST\r\n").starts_with("+OK 3 ข้อความ (600 ออกเต็ต)\r\n"));
    assert_eq!(reply(&mut s, "DELE 1\r\n"), "+OK ลบข้อความ 1 แล้ว\r\n");
    assert_eq!(reply(&mut s, "RETR 1\r\n"), "-ERR ข้อความ 1 ถูกลบไปแล้ว\r\n");
    assert_eq!(s.retr_ok(200), "+OK 200 ออกเต็ต\r\n".as_bytes());
    // Switch to Chinese in TRANSACTION; a region subtag finds `zh`.
    assert_eq!(reply(&mut s, "LANG zh-CN\r\n"), "+OK zh 此后以中文回复\r\n");
    assert_eq!(reply(&mut s, "RETR 9\r\n"), "-ERR 没有此邮件\r\n");
    assert_eq!(s.top_ok(), "+OK 邮件开头如下\r\n".as_bytes());
    assert_eq!(
        s.retrieve_failure(RetrieveFailure::Gone),
        "-ERR [SYS/PERM] 此邮件已不存在\r\n".as_bytes()
    );
    // `*` is the server default, English.
    assert_eq!(
        reply(&mut s, "LANG *\r\n"),
        "+OK en Responses are now in English\r\n"
    );
    assert_eq!(
        s.retrieve_failure(RetrieveFailure::Unreadable),
        b"-ERR [SYS/TEMP] Cannot read the message now, try again later\r\n"
    );
    reply(&mut s, "LANG th\r\n");
    let events = run(&mut s, "QUIT\r\n");
    assert!(matches!(events.last(), Some(Event::Update { .. })));
    s.update_result(true);
    assert_eq!(
        sent(&drain(&mut s)),
        "+OK pop.example.org เซิร์ฟเวอร์ POP3 ลาก่อน (เหลือ 2 ข้อความ)\r\n"
    );
}

fn login_with_lang(s: &mut Session) {
    let events = run(s, "USER alice\r\nPASS secret\r\n");
    assert!(matches!(events.last(), Some(Event::Authenticate { .. })));
    s.auth_result(AuthOutcome::Ok {
        messages: messages(),
    });
    assert_eq!(
        sent(&drain(s)),
        "+OK เข้าสู่ระบบแล้ว มี 3 ข้อความ (600 ออกเต็ต)\r\n"
    );
}

use praisani_pop3::Session;

#[test]
fn auth_failure_codes_survive_translation() {
    let mut s = session();
    reply(&mut s, "LANG zh\r\n");
    run(&mut s, "USER alice\r\nPASS bad\r\n");
    s.auth_result(AuthOutcome::Failed);
    assert_eq!(sent(&drain(&mut s)), "-ERR [AUTH] 认证失败\r\n");
    run(&mut s, "USER alice\r\nPASS x\r\n");
    s.auth_result(AuthOutcome::InUse);
    assert_eq!(
        sent(&drain(&mut s)),
        "-ERR [IN-USE] 邮箱已被另一个会话锁定\r\n"
    );
}

#[test]
fn lang_syntax_and_english_only_servers() {
    let mut s = session();
    assert_eq!(reply(&mut s, "LANG th en\r\n"), "-ERR Invalid argument\r\n");
    assert_eq!(s.language(), Language::En);
    let mut s = session_with(Config {
        languages: vec![Language::En],
        ..config()
    });
    assert_eq!(reply(&mut s, "LANG\r\n"), "-ERR Unknown command\r\n");
    assert_eq!(reply(&mut s, "LANG th\r\n"), "-ERR Unknown command\r\n");
    // Only Thai besides English: Chinese is not offered.
    let mut s = session_with(Config {
        languages: vec![Language::Th],
        ..config()
    });
    assert_eq!(
        reply(&mut s, "LANG\r\n"),
        "+OK Language listing follows\r\nen English\r\nth ไทย\r\n.\r\n"
    );
    assert_eq!(
        reply(&mut s, "LANG zh\r\n"),
        "-ERR Language not available\r\n"
    );
}

#[test]
fn capa_announces_utf8_and_lang_before_and_after_login() {
    let mut s = session();
    let before = reply(&mut s, "CAPA\r\n");
    assert!(capa_lines(&before).contains(&"UTF8 USER"), "{before}");
    assert!(capa_lines(&before).contains(&"LANG"), "{before}");
    login_with(&mut s, messages());
    let after = reply(&mut s, "CAPA\r\n");
    assert!(capa_lines(&after).contains(&"UTF8 USER"), "{after}");
    assert!(capa_lines(&after).contains(&"LANG"), "{after}");
}
