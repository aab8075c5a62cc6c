//! Connection state recovery in one node's memory: the sessions of sockets that disconnected
//! for a recoverable reason, and the packets broadcast recently, each with its offset.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytestring::ByteString;
use socketio_parser::Packet;

use crate::adapter::{BroadcastOptions, PersistedSession, RestoredSession};
use crate::rooms::Room;

/// The time the adapter reads to expire sessions and packets: the time elapsed since any fixed
/// point, never going back. The adapter reads no clock of its own, so tests can give it
/// simulated time; the server gives it its runtime's clock.
pub type Clock = Arc<dyn Fn() -> Duration + Send + Sync>;

/// How long, and how much, the in-memory adapter keeps for connection state recovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryOptions {
    /// How long a disconnected session, and a broadcast packet, is kept (2 minutes, the
    /// reference's `maxDisconnectionDuration`).
    pub max_disconnection_duration: Duration,
    /// The most packets kept; the oldest go first. A session whose last offset is gone is not
    /// restored (the client gets a new session, as after expiry). 100 000 by default; the
    /// reference keeps every packet of the last `max_disconnection_duration`.
    pub max_packets: usize,
    /// The most sessions kept; the oldest go first (100 000 by default).
    pub max_sessions: usize,
}

impl Default for RecoveryOptions {
    fn default() -> Self {
        RecoveryOptions {
            max_disconnection_duration: Duration::from_secs(120),
            max_packets: 100_000,
            max_sessions: 100_000,
        }
    }
}

/// A packet kept for the sessions that will miss it.
struct Kept {
    seq: u64,
    packet: Packet,
    rooms: Vec<Room>,
    except: Vec<Room>,
    at: Duration,
}

/// The sessions and packets of one namespace.
pub(crate) struct SessionStore {
    options: RecoveryOptions,
    clock: Clock,
    last_seq: u64,
    /// In offset order.
    packets: VecDeque<Kept>,
    sessions: HashMap<ByteString, (PersistedSession, Duration)>,
    /// Persistence order, for expiry: the time and the pid (entries of restored or replaced
    /// sessions stay until they reach the front, where they are recognised by their time).
    order: VecDeque<(Duration, ByteString)>,
}

impl fmt::Debug for SessionStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionStore")
            .field("options", &self.options)
            .field("packets", &self.packets.len())
            .field("sessions", &self.sessions.len())
            .finish_non_exhaustive()
    }
}

/// Offsets are the sequence number in lower-case hexadecimal.
fn offset_of(seq: u64) -> ByteString {
    ByteString::from(format!("{seq:x}"))
}

fn seq_of(offset: &str) -> Option<u64> {
    if offset.is_empty()
        || offset.len() > 16
        || !offset.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return None;
    }
    u64::from_str_radix(offset, 16).ok()
}

impl SessionStore {
    pub(crate) fn new(options: RecoveryOptions, clock: Clock) -> Self {
        SessionStore {
            options,
            clock,
            last_seq: 0,
            packets: VecDeque::new(),
            sessions: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    fn now(&self) -> Duration {
        (self.clock)()
    }

    fn expired(&self, at: Duration, now: Duration) -> bool {
        now.saturating_sub(at) > self.options.max_disconnection_duration
    }

    pub(crate) fn next_offset(&mut self) -> ByteString {
        self.last_seq += 1;
        offset_of(self.last_seq)
    }

    /// Keeps `packet`, sent with `offset` to the sockets `opts` reach.
    pub(crate) fn keep(&mut self, offset: &str, packet: &Packet, opts: &BroadcastOptions) {
        let Some(seq) = seq_of(offset) else { return };
        let now = self.now();
        self.drop_old_packets(now);
        if self.options.max_packets == 0 {
            return;
        }
        while self.packets.len() >= self.options.max_packets {
            self.packets.pop_front();
        }
        let kept = Kept {
            seq,
            packet: packet.clone(),
            rooms: opts.rooms.clone(),
            except: opts.except.clone(),
            at: now,
        };
        // Offsets are taken in order but may be kept out of order by concurrent broadcasts:
        // the place is found from the back, where it nearly always is.
        let at = self.packets.iter().rposition(|p| p.seq < seq).map_or(0, |i| i + 1);
        self.packets.insert(at, kept);
    }

    fn drop_old_packets(&mut self, now: Duration) {
        while self.packets.front().is_some_and(|p| self.expired(p.at, now)) {
            self.packets.pop_front();
        }
    }

    fn drop_old_sessions(&mut self, now: Duration) {
        while let Some((at, pid)) = self.order.front() {
            let stale = match self.sessions.get(pid) {
                Some((_, kept_at)) => kept_at != at,
                None => true,
            };
            if stale {
                self.order.pop_front();
            } else if self.expired(*at, now) || self.sessions.len() > self.options.max_sessions {
                self.sessions.remove(pid);
                self.order.pop_front();
            } else {
                break;
            }
        }
    }

    pub(crate) fn persist(&mut self, session: PersistedSession) {
        if self.options.max_sessions == 0 {
            return;
        }
        let now = self.now();
        self.order.push_back((now, session.pid.clone()));
        self.sessions.insert(session.pid.clone(), (session, now));
        self.drop_old_sessions(now);
        self.drop_old_packets(now);
    }

    /// The session `pid` with the packets sent after `offset` to its rooms, if the session is
    /// kept and not expired and `offset` is still kept. A restored session is removed: it
    /// cannot be restored twice.
    pub(crate) fn restore(&mut self, pid: &str, offset: &str) -> Option<RestoredSession> {
        let now = self.now();
        self.drop_old_sessions(now);
        self.drop_old_packets(now);
        let seq = seq_of(offset)?;
        let (session, at) = self.sessions.get(pid)?;
        if self.expired(*at, now) {
            return None;
        }
        let start = self.packets.binary_search_by_key(&seq, |p| p.seq).ok()?;
        let missed = self
            .packets
            .iter()
            .skip(start + 1)
            .filter(|p| reaches(p, &session.rooms))
            .map(|p| p.packet.clone())
            .collect();
        let (session, _) = self.sessions.remove(pid)?;
        Some(RestoredSession { session, missed })
    }
}

/// Whether a packet sent with `kept`'s rooms reaches a socket in `rooms`: every socket when it
/// names no room, else one of them, and in no `except` room.
fn reaches(kept: &Kept, rooms: &[Room]) -> bool {
    (kept.rooms.is_empty() || kept.rooms.iter().any(|r| rooms.contains(r)))
        && !kept.except.iter().any(|r| rooms.contains(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_round_trip_and_refuse_other_text() {
        for seq in [1, 15, 16, 4096, u64::MAX] {
            assert_eq!(seq_of(&offset_of(seq)), Some(seq));
        }
        for bad in ["", "G", "1-0", "MzUPkW0", "10000000000000000", "+1", "A"] {
            assert_eq!(seq_of(bad), None, "{bad}");
        }
    }
}
