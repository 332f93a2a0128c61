//! The maildrop as one session sees it: messages numbered 1..=N in arrival order, with
//! deletion marks that only become real in the UPDATE state.

/// One message as the store lists it, in arrival order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageInfo {
    /// Store identifier, opaque to the engine; handed back in `Retrieve` and `Update`.
    pub id: u64,
    /// Unique id for UIDL: 1 to 70 characters in 0x21..=0x7E (RFC 1939 section 7), stable
    /// across sessions.
    pub uid: String,
    /// Exact octets RETR sends before dot-stuffing (the message with CRLF line ends).
    pub size: u64,
}

/// Why a message number does not name a message the client may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Missing {
    /// Zero, or beyond the last message.
    NoSuchMessage,
    /// Marked deleted in this session.
    Deleted,
}

/// The message list of a session in TRANSACTION state.
#[derive(Debug)]
pub(crate) struct Maildrop {
    messages: Vec<MessageInfo>,
    deleted: Vec<bool>,
    live_count: usize,
    live_octets: u64,
}

impl Maildrop {
    pub(crate) fn new(messages: Vec<MessageInfo>) -> Self {
        let live_octets = messages
            .iter()
            .fold(0u64, |sum, m| sum.saturating_add(m.size));
        Maildrop {
            deleted: vec![false; messages.len()],
            live_count: messages.len(),
            live_octets,
            messages,
        }
    }

    /// Messages not marked deleted, and their total size (what STAT reports).
    pub(crate) fn stat(&self) -> (usize, u64) {
        (self.live_count, self.live_octets)
    }

    fn index(&self, number: u64) -> Result<usize, Missing> {
        let index = usize::try_from(number)
            .ok()
            .and_then(|n| n.checked_sub(1))
            .filter(|&i| i < self.messages.len())
            .ok_or(Missing::NoSuchMessage)?;
        if self.deleted[index] {
            return Err(Missing::Deleted);
        }
        Ok(index)
    }

    /// The message with this session number, unless it is missing or marked deleted.
    pub(crate) fn get(&self, number: u64) -> Result<&MessageInfo, Missing> {
        self.index(number).map(|i| &self.messages[i])
    }

    /// Marks a message deleted.
    pub(crate) fn delete(&mut self, number: u64) -> Result<(), Missing> {
        let i = self.index(number)?;
        self.deleted[i] = true;
        self.live_count -= 1;
        self.live_octets = self.live_octets.saturating_sub(self.messages[i].size);
        Ok(())
    }

    /// Unmarks every message (RSET).
    pub(crate) fn reset(&mut self) {
        *self = Maildrop::new(std::mem::take(&mut self.messages));
    }

    /// Live messages with their session numbers, in order.
    pub(crate) fn live(&self) -> impl Iterator<Item = (usize, &MessageInfo)> {
        self.messages
            .iter()
            .zip(&self.deleted)
            .enumerate()
            .filter(|(_, (_, deleted))| !**deleted)
            .map(|(i, (m, _))| (i + 1, m))
    }

    /// Store ids of the messages marked deleted, in message-number order.
    pub(crate) fn deleted_ids(&self) -> Vec<u64> {
        self.messages
            .iter()
            .zip(&self.deleted)
            .filter(|(_, deleted)| **deleted)
            .map(|(m, _)| m.id)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drop3() -> Maildrop {
        Maildrop::new(
            (1..=3)
                .map(|i| MessageInfo {
                    id: 100 + i,
                    uid: format!("u{i}"),
                    size: 10 * i,
                })
                .collect(),
        )
    }

    #[test]
    fn numbering_and_deletion() {
        let mut m = drop3();
        assert_eq!(m.stat(), (3, 60));
        assert_eq!(m.get(2).map(|m| m.id), Ok(102));
        assert_eq!(m.get(0), Err(Missing::NoSuchMessage));
        assert_eq!(m.get(4), Err(Missing::NoSuchMessage));
        assert_eq!(m.get(u64::MAX), Err(Missing::NoSuchMessage));
        assert_eq!(m.delete(2), Ok(()));
        assert_eq!(m.delete(2), Err(Missing::Deleted));
        assert_eq!(m.get(2), Err(Missing::Deleted));
        assert_eq!(m.stat(), (2, 40));
        assert_eq!(m.live().map(|(n, _)| n).collect::<Vec<_>>(), vec![1, 3]);
        assert_eq!(m.deleted_ids(), vec![102]);
        m.reset();
        assert_eq!(m.stat(), (3, 60));
        assert!(m.deleted_ids().is_empty());
    }

    #[test]
    fn sizes_saturate() {
        let m = Maildrop::new(vec![
            MessageInfo {
                id: 1,
                uid: "a".into(),
                size: u64::MAX,
            },
            MessageInfo {
                id: 2,
                uid: "b".into(),
                size: 5,
            },
        ]);
        assert_eq!(m.stat(), (2, u64::MAX));
    }
}
