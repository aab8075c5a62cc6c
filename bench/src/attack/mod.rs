//! Hostile-client probes against a Socket.IO server that implements the event contract of
//! `bench/README.md`, each run with the server watched.
//!
//! [`run`] runs one [`Probe`] against a [`Target`]: a canary client (a normal Socket.IO client
//! over WebSocket on `/` doing `echo` round trips with acknowledgements) starts first and keeps
//! going through the attack and after it; the server's resident set size and open descriptors are
//! read before, sampled every 50 ms while the attack holds (their peak), and read again once the
//! attack's connections are gone and [`Scale::settle`] has passed; then a client opened afresh does
//! three round trips. The [`Report`] holds those figures and the probe's own [`Outcome`]: what the
//! server answered (statuses, close codes, how long it took), and, where the outcome expected of
//! a hardened server is clear and bounded, whether it was met.
//!
//! Every probe talks to the target only, bounds its loops in count and time, and has a hard time
//! limit ([`Probe::limit`]); a server that crashed or hangs ends the probe, not the tool. The
//! `attack` binary runs them against a URL or starts the peers itself, side by side.

mod probes;
mod watch;
mod wire;

use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The descriptor limit a server is started with for [`Probe::FdExhaustion`].
pub const FD_LIMIT: u64 = 256;

/// The server a probe attacks.
#[derive(Debug, Clone)]
pub struct Target {
    /// Where it listens (`127.0.0.1:3000`).
    pub addr: String,
    /// Its process id, for its memory and descriptors (the test process for a server inside it).
    pub pid: u32,
    /// The descriptor limit it was started with ([`Probe::FdExhaustion`] runs only with one).
    pub fd_limit: Option<u64>,
    /// The file its output goes to, if known: [`Probe::FdExhaustion`] reports the warnings it
    /// holds.
    pub log: Option<PathBuf>,
}

/// One hostile client behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Probe {
    /// Connections that send request headers one byte at a time, for ever.
    Slowloris,
    /// Long-polling POSTs whose body arrives one byte every 2 s, announcing a Content-Length far
    /// over `max_payload` (half of them) or under it (the other half).
    SlowBodies,
    /// Valid long-polling bodies sent one byte per TCP segment: the server's memory per body
    /// byte in flight.
    SegmentedBodies,
    /// A POST announcing 10⁹ bytes that sends none of them.
    OversizedLength,
    /// A chunked POST that streams past 1 MB.
    ChunkedOverLimit,
    /// WebSocket frame headers announcing 2⁶³−1, 2⁶⁴−1 and 2³¹ bytes.
    HugeFrameLength,
    /// One connection sending CONNECT to many distinct unknown namespaces.
    InvalidNamespaces,
    /// One connection sending acknowledgements for many ids never issued.
    UnknownAcks,
    /// An event whose argument nests arrays 10 000 deep.
    DeepJson,
    /// An event whose name is a ~900 KB string.
    HugeEventName,
    /// Binary events announcing 10 attachments of which only 9 are sent.
    MissingAttachments,
    /// A client that never reads while another broadcasts large events.
    StalledReader,
    /// More idle clients than the server has descriptors (needs [`Target::fd_limit`]).
    FdExhaustion,
    /// Guessed, closed and already upgraded session ids.
    SessionIds,
}

impl Probe {
    /// Every probe, in the order the tool runs them.
    pub const ALL: [Probe; 14] = [
        Probe::Slowloris,
        Probe::SlowBodies,
        Probe::SegmentedBodies,
        Probe::OversizedLength,
        Probe::ChunkedOverLimit,
        Probe::HugeFrameLength,
        Probe::InvalidNamespaces,
        Probe::UnknownAcks,
        Probe::DeepJson,
        Probe::HugeEventName,
        Probe::MissingAttachments,
        Probe::StalledReader,
        Probe::FdExhaustion,
        Probe::SessionIds,
    ];

    /// The probe's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Probe::Slowloris => "slowloris",
            Probe::SlowBodies => "slow-bodies",
            Probe::SegmentedBodies => "segmented-bodies",
            Probe::OversizedLength => "oversized-length",
            Probe::ChunkedOverLimit => "chunked-over-limit",
            Probe::HugeFrameLength => "huge-frame-length",
            Probe::InvalidNamespaces => "invalid-namespaces",
            Probe::UnknownAcks => "unknown-acks",
            Probe::DeepJson => "deep-json",
            Probe::HugeEventName => "huge-event-name",
            Probe::MissingAttachments => "missing-attachments",
            Probe::StalledReader => "stalled-reader",
            Probe::FdExhaustion => "fd-exhaustion",
            Probe::SessionIds => "session-ids",
        }
    }

    /// The probe called `name`.
    pub fn named(name: &str) -> Option<Probe> {
        Probe::ALL.into_iter().find(|p| p.name() == name)
    }

    /// What the probe does at `scale`, in a few words.
    pub fn describe(self, s: &Scale) -> String {
        match self {
            Probe::Slowloris => format!(
                "{} connections send request headers 1 byte every {} s, for {} s",
                s.slowloris_connections,
                s.slowloris_byte_every.as_secs_f64(),
                s.slowloris_hold.as_secs()
            ),
            Probe::SlowBodies => format!(
                "{} polling POSTs send 1 body byte every 2 s for {} s; half announce 10¹² bytes, half {}",
                s.slow_bodies,
                s.slow_body_hold.as_secs(),
                probes::SLOW_BODY_LENGTH
            ),
            Probe::SegmentedBodies => format!(
                "{} polling POSTs of {} valid bytes, 1 byte per TCP segment",
                s.segmented_sessions, s.segmented_body
            ),
            Probe::OversizedLength => "a polling POST announcing 10⁹ bytes, none sent".into(),
            Probe::ChunkedOverLimit => format!(
                "a chunked polling POST streaming 64 KiB chunks up to {} MiB",
                probes::CHUNKED_MAX >> 20
            ),
            Probe::HugeFrameLength => "WebSocket frame headers announcing 2⁶³−1, 2⁶⁴−1 and 2³¹ bytes".into(),
            Probe::InvalidNamespaces => {
                format!("one connection sends CONNECT to {} unknown namespaces", s.namespaces)
            }
            Probe::UnknownAcks => format!("one connection sends {} ACKs for ids never issued", s.acks),
            Probe::DeepJson => format!("an event whose argument nests arrays {} deep", s.depth),
            Probe::HugeEventName => format!("an event named with a {}-byte string", s.event_name),
            Probe::MissingAttachments => format!(
                "{} connections announce 10 attachments and send 9 of {} bytes",
                s.attachment_connections, s.attachment_size
            ),
            Probe::StalledReader => format!(
                "a client never reads while another sends `bcast` with {} KiB, up to {} times",
                s.broadcast_size >> 10,
                s.broadcast_rounds
            ),
            Probe::FdExhaustion => format!(
                "{} idle WebSocket clients against a server limited to {} descriptors",
                s.fd_clients, FD_LIMIT
            ),
            Probe::SessionIds => {
                "polling with random and closed sids, WebSocket with an unknown and an upgraded sid".into()
            }
        }
    }

    /// The hard time limit of the probe at `scale`.
    pub fn limit(self, s: &Scale) -> Duration {
        match self {
            Probe::Slowloris => s.slowloris_hold + Duration::from_secs(20),
            Probe::SlowBodies => s.slow_body_hold + Duration::from_secs(30),
            Probe::SegmentedBodies | Probe::StalledReader | Probe::FdExhaustion => Duration::from_secs(120),
            _ => Duration::from_secs(60),
        }
    }
}

/// Sizes and durations of the probes.
#[derive(Debug, Clone)]
pub struct Scale {
    /// Slowloris connections.
    pub slowloris_connections: usize,
    /// Time between two header bytes of a slowloris connection.
    pub slowloris_byte_every: Duration,
    /// How long the slowloris connections keep sending.
    pub slowloris_hold: Duration,
    /// Slow POSTs (one polling session each).
    pub slow_bodies: usize,
    /// How long the slow POSTs keep sending.
    pub slow_body_hold: Duration,
    /// Polling sessions whose bodies go one byte per segment.
    pub segmented_sessions: usize,
    /// The size of each of those bodies.
    pub segmented_body: usize,
    /// Unknown namespaces one connection asks for.
    pub namespaces: usize,
    /// Unknown acknowledgement ids one connection sends.
    pub acks: usize,
    /// Nesting depth of the deep JSON argument.
    pub depth: usize,
    /// Length of the huge event name.
    pub event_name: usize,
    /// Connections that leave a binary packet incomplete.
    pub attachment_connections: usize,
    /// Size of each attachment they send.
    pub attachment_size: usize,
    /// Size of each broadcast argument while a client stalls.
    pub broadcast_size: usize,
    /// The most broadcasts sent while a client stalls.
    pub broadcast_rounds: usize,
    /// Idle clients opened against the descriptor limit.
    pub fd_clients: usize,
    /// How long the server is left alone after the attack before the "after" readings.
    pub settle: Duration,
}

impl Scale {
    /// The sizes that show each effect in full: slowloris held long enough for a 60 s header
    /// deadline checked every 30 s, slow bodies for a 30 s body deadline (under 3 minutes for
    /// every probe against one server).
    pub fn full() -> Scale {
        Scale {
            slowloris_connections: 200,
            slowloris_byte_every: Duration::from_secs(3),
            slowloris_hold: Duration::from_secs(95),
            slow_bodies: 200,
            slow_body_hold: Duration::from_secs(45),
            segmented_sessions: 4,
            segmented_body: 20_000,
            namespaces: 10_000,
            acks: 100_000,
            depth: 10_000,
            event_name: 900_000,
            attachment_connections: 20,
            attachment_size: 999_000,
            broadcast_size: 64 * 1024,
            broadcast_rounds: 1_000,
            fd_clients: 400,
            settle: Duration::from_secs(2),
        }
    }

    /// Fewer connections and short holds, for a quick look and for tests (a server with short
    /// header and body deadlines still shows them).
    pub fn quick() -> Scale {
        Scale {
            slowloris_connections: 20,
            slowloris_byte_every: Duration::from_millis(500),
            slowloris_hold: Duration::from_secs(5),
            slow_bodies: 20,
            slow_body_hold: Duration::from_secs(5),
            segmented_sessions: 2,
            segmented_body: 4_000,
            namespaces: 1_000,
            acks: 10_000,
            attachment_connections: 4,
            broadcast_rounds: 400,
            settle: Duration::from_millis(500),
            ..Scale::full()
        }
    }
}

/// What a probe found.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The server's answers, in words and figures.
    pub summary: String,
    /// Whether the expected bounded outcome was met, when there is one.
    pub pass: Option<bool>,
}

/// Round trips of a healthy client.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoundTrips {
    /// Acknowledged in time.
    pub ok: u32,
    /// Failed: no acknowledgement within 5 s, or the connection was lost or refused.
    pub failed: u32,
}

/// A reading before the probe, its peak while the probe held, and a reading after it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Span {
    /// Before the probe.
    pub before: u64,
    /// The highest sample while the probe ran.
    pub peak: u64,
    /// After the probe's connections closed and the settle time.
    pub after: u64,
}

/// One probe's figures.
#[derive(Debug, Clone)]
pub struct Report {
    /// The probe.
    pub probe: Probe,
    /// What it found.
    pub outcome: Outcome,
    /// The server's resident set size, in bytes.
    pub rss: Span,
    /// The server's open file descriptors.
    pub fds: Span,
    /// The canary's round trips during the attack.
    pub canary_during: RoundTrips,
    /// The canary's round trips after it, with those of a client opened afresh.
    pub canary_after: RoundTrips,
    /// Whether the server process was still there after the probe.
    pub alive: bool,
    /// The server process afterwards, in words (`alive`, `gone`; the `attack` binary adds how
    /// it exited and what it logged).
    pub server: String,
    /// How long the probe ran.
    pub took: Duration,
}

impl Report {
    /// Whether the expected outcome was met with the canary unharmed and the server alive;
    /// `None` for a probe without an expected outcome.
    pub fn verdict(&self) -> Option<bool> {
        self.outcome
            .pass
            .map(|pass| pass && self.canary_during.failed == 0 && self.canary_after.failed == 0 && self.alive)
    }

    /// The report as (figure, value) rows; with `verdict`, the outcome starts with PASS or FAIL.
    pub fn rows(&self, verdict: bool) -> Vec<(&'static str, String)> {
        let mib = |b: u64| format!("{:.1}", b as f64 / 1_048_576.0);
        let outcome = match self.verdict().filter(|_| verdict) {
            Some(true) => format!("PASS: {}", self.outcome.summary),
            Some(false) => format!("FAIL: {}", self.outcome.summary),
            None => self.outcome.summary.clone(),
        };
        vec![
            ("outcome", outcome),
            (
                "RSS MiB before / peak / after",
                format!("{} / {} / {}", mib(self.rss.before), mib(self.rss.peak), mib(self.rss.after)),
            ),
            (
                "fds before / peak / after",
                format!("{} / {} / {}", self.fds.before, self.fds.peak, self.fds.after),
            ),
            (
                "canary failures during / after",
                format!(
                    "{} of {} / {} of {}",
                    self.canary_during.failed,
                    self.canary_during.ok + self.canary_during.failed,
                    self.canary_after.failed,
                    self.canary_after.ok + self.canary_after.failed
                ),
            ),
            ("server", self.server.clone()),
        ]
    }
}

/// Runs `probe` against `target`, watched: see the [module docs](self).
pub async fn run(target: &Target, probe: Probe, scale: &Scale) -> Report {
    let started = Instant::now();
    let canary = watch::Canary::start(&target.addr);
    // The canary's first round trip, so that its connection is in the "before" readings.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = watch::reading(target.pid).unwrap_or_default();
    let sampler = watch::Sampler::start(target.pid, before);
    let limit = probe.limit(scale);
    let outcome = match tokio::time::timeout(limit, probes::attack(probe, target, scale)).await {
        Ok(outcome) => outcome,
        Err(_) => Outcome {
            summary: format!("did not finish within its hard limit of {} s", limit.as_secs()),
            pass: Some(false),
        },
    };
    let peak = sampler.stop().await;
    canary.attack_over();
    tokio::time::sleep(scale.settle).await;
    let after = watch::reading(target.pid);
    let fresh = watch::fresh_client(&target.addr, 3).await;
    let [during, mut canary_after] = canary.stop().await;
    canary_after.ok += fresh.ok;
    canary_after.failed += fresh.failed;
    let (rss_after, fds_after) = after.unwrap_or_default();
    Report {
        probe,
        outcome,
        rss: Span { before: before.0, peak: peak.rss, after: rss_after },
        fds: Span { before: before.1, peak: peak.fds, after: fds_after },
        canary_during: during,
        canary_after,
        alive: !peak.gone && after.is_some(),
        server: if peak.gone || after.is_none() { "gone".into() } else { "alive".into() },
        took: started.elapsed(),
    }
}
