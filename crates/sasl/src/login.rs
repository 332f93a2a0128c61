//! LOGIN (draft-murchison-sasl-login): the server prompts `Username:` and
//! `Password:`, the client answers each.
//!
//! The draft says the challenge text is not significant, but widely
//! deployed clients wait for exactly these two strings, so we send them.
//! Many clients (Outlook, office copiers) send the user name as an initial
//! response (`AUTH LOGIN <b64 user>`); the first challenge is then
//! `Password:`.

use crate::State as Exchange;
use crate::mechanism::{Step, identity, password};

/// The user-name prompt, sent as raw bytes (base64: `VXNlcm5hbWU6`).
pub(crate) const USERNAME_PROMPT: &[u8] = b"Username:";
/// The password prompt, sent as raw bytes (base64: `UGFzc3dvcmQ6`).
pub(crate) const PASSWORD_PROMPT: &[u8] = b"Password:";

/// Which answer the server waits for.
pub(crate) enum State {
    AwaitUser,
    AwaitPassword { user: String },
}

pub(crate) fn start(initial: Option<&[u8]>) -> (Exchange, Step) {
    match initial {
        // An empty initial response (`AUTH LOGIN =`) carries no user name;
        // prompting for it, as Dovecot does, is kinder than failing.
        None | Some([]) => (
            Exchange::Login(State::AwaitUser),
            Step::Challenge(USERNAME_PROMPT.to_vec()),
        ),
        Some(user) => got_user(user),
    }
}

pub(crate) fn step(state: State, response: &[u8]) -> (Exchange, Step) {
    match state {
        State::AwaitUser => got_user(response),
        State::AwaitPassword { user } => match password(response) {
            Ok(password) => (
                Exchange::PasswordCheck {
                    authcid: user.clone(),
                    authzid: None,
                },
                Step::VerifyPassword {
                    authcid: user,
                    authzid: None,
                    password,
                },
            ),
            Err(e) => (Exchange::Done, Step::Failure(e)),
        },
    }
}

fn got_user(user: &[u8]) -> (Exchange, Step) {
    match identity(user, "invalid LOGIN user name") {
        Ok(user) => (
            Exchange::Login(State::AwaitPassword { user }),
            Step::Challenge(PASSWORD_PROMPT.to_vec()),
        ),
        Err(e) => (Exchange::Done, Step::Failure(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Failure;

    #[test]
    fn prompts_encode_as_clients_expect() {
        assert_eq!(crate::b64_encode(USERNAME_PROMPT), "VXNlcm5hbWU6");
        assert_eq!(crate::b64_encode(PASSWORD_PROMPT), "UGFzc3dvcmQ6");
    }

    #[test]
    fn rejects_bad_user_and_password() {
        assert!(matches!(
            got_user(b"").1,
            Step::Failure(Failure::Malformed(_))
        ));
        assert!(matches!(
            got_user(b"a\0b").1,
            Step::Failure(Failure::Malformed(_))
        ));
        assert!(matches!(
            got_user(b"\xff").1,
            Step::Failure(Failure::Malformed(_))
        ));
        let (_, s) = step(State::AwaitPassword { user: "joe".into() }, b"");
        assert_eq!(s, Step::Failure(Failure::Malformed("empty password")));
        let (_, s) = step(State::AwaitPassword { user: "joe".into() }, b"a\0b");
        assert_eq!(s, Step::Failure(Failure::Malformed("NUL in password")));
    }
}
