//! The churn load: Socket.IO clients that keep arriving over every transport (long-polling,
//! WebSocket, long-polling upgraded to WebSocket), do a few acknowledged `echo` round trips and
//! leave, half of them gracefully and half by a TCP reset at a random point of their life:
//! during the handshake, with a long-polling GET pending, during the upgrade (after `2probe`,
//! before `5`) or once connected.
//!
//! The `churn` binary runs it against a server process and checks that the server gives back
//! what the clients held; `tests/it/churn.rs` runs it against an in-process server.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};

use crate::{Http, Msg, Polling, Proto, Ws, POLLING_HANDSHAKE};

/// How long one step of a session (a connect, a request, an answer) may take.
const STEP_LIMIT: Duration = Duration::from_secs(10);
/// The Engine.IO handshake of a WebSocket session.
const WEBSOCKET: &str = "/socket.io/?EIO=4&transport=websocket";

/// What a churn run does.
#[derive(Debug, Clone)]
pub struct Options {
    /// How long new sessions keep starting.
    pub duration: Duration,
    /// The most sessions to start.
    pub sessions: u64,
    /// How many sessions run at once.
    pub concurrency: usize,
    /// Seed of the random choices (transport, how and where a session leaves, round trips).
    pub seed: u64,
}

/// Counters a running churn updates as sessions end, for progress lines.
#[derive(Debug, Default)]
pub struct Progress {
    /// Sessions ended, however they ended.
    pub sessions: AtomicU64,
    /// Sessions that failed where their plan did not call for it.
    pub errors: AtomicU64,
}

/// What a churn run did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Report {
    /// Sessions ended.
    pub sessions: u64,
    /// Sessions by transport: `polling`, `websocket`, `upgrade` (long-polling, then WebSocket).
    pub transports: BTreeMap<&'static str, u64>,
    /// Sessions that ended as planned, by how: `graceful`, or `reset at <point>`.
    pub ends: BTreeMap<&'static str, u64>,
    /// Acknowledged `echo` round trips.
    pub round_trips: u64,
    /// Failures no plan called for, by step and error.
    pub errors: BTreeMap<String, u64>,
}

impl Report {
    /// Failures no plan called for.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    fn merge(&mut self, other: Report) {
        self.sessions += other.sessions;
        self.round_trips += other.round_trips;
        for (k, v) in other.transports {
            *self.transports.entry(k).or_default() += v;
        }
        for (k, v) in other.ends {
            *self.ends.entry(k).or_default() += v;
        }
        for (k, v) in other.errors {
            *self.errors.entry(k).or_default() += v;
        }
    }
}

/// Runs sessions against `addr` (`host:port`), `options.concurrency` at a time, until
/// `options.duration` has passed or `options.sessions` have started, then waits for the
/// sessions in flight (each step of a session is bounded by a 10 s timeout).
pub async fn run(addr: &str, options: &Options, progress: Arc<Progress>) -> Report {
    let deadline = Instant::now() + options.duration;
    let started = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..options.concurrency.max(1) {
        let (addr, started, progress) = (addr.to_owned(), started.clone(), progress.clone());
        let (seed, sessions) = (options.seed, options.sessions);
        tasks.push(tokio::spawn(async move {
            let mut report = Report::default();
            while Instant::now() < deadline {
                let n = started.fetch_add(1, Ordering::Relaxed);
                if n >= sessions {
                    break;
                }
                let mut rng = Rng(seed ^ n.wrapping_mul(0x2545_f491_4f6c_dd1d));
                let plan = Plan::draw(&mut rng);
                let result = session(&addr, &plan, &mut report.round_trips).await;
                report.sessions += 1;
                *report.transports.entry(plan.transport.label()).or_default() += 1;
                match result {
                    Ok(()) => *report.ends.entry(plan.end_label()).or_default() += 1,
                    Err(e) => {
                        progress.errors.fetch_add(1, Ordering::Relaxed);
                        *report.errors.entry(e).or_default() += 1;
                    }
                }
                progress.sessions.fetch_add(1, Ordering::Relaxed);
            }
            report
        }));
    }
    let mut total = Report::default();
    for task in tasks {
        match task.await {
            Ok(report) => total.merge(report),
            Err(e) => *total.errors.entry(format!("a session task failed: {e}")).or_default() += 1,
        }
    }
    total
}

/// How a session reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Polling,
    WebSocket,
    /// Long-polling first, then upgraded to WebSocket (`2probe`, `3probe`, `5`).
    Upgrade,
}

impl Transport {
    fn label(self) -> &'static str {
        match self {
            Transport::Polling => "polling",
            Transport::WebSocket => "websocket",
            Transport::Upgrade => "upgrade",
        }
    }
}

/// How far the handshake got when a session resets during it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// The handshake request is written, its answer not read.
    Requested,
    /// The Engine.IO open packet is read, the Socket.IO `CONNECT` not sent.
    Opened,
    /// The `CONNECT` is sent, its answer not read.
    Joining,
}

/// Where a session that leaves by a TCP reset does it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reset {
    Handshake(Stage),
    /// A long-polling GET is pending (sent, its answer not read).
    Poll,
    /// `2probe` is sent on the new WebSocket (and `3probe` read if `probed`), `5` is not.
    Upgrade {
        probed: bool,
    },
    /// Joined to `/`, after `after` of the session's round trips.
    Connected {
        after: u32,
    },
}

/// One session's random choices.
#[derive(Debug, Clone, Copy)]
struct Plan {
    transport: Transport,
    round_trips: u32,
    /// `None`: the session leaves gracefully (`41`, then the Engine.IO close).
    reset: Option<Reset>,
}

impl Plan {
    fn draw(rng: &mut Rng) -> Plan {
        let transport = [Transport::Polling, Transport::WebSocket, Transport::Upgrade][rng.below(3) as usize];
        let round_trips = 1 + rng.below(3) as u32;
        let reset = (rng.below(2) == 0).then(|| {
            let stage = [Stage::Requested, Stage::Opened, Stage::Joining][rng.below(3) as usize];
            let mut points = vec![
                Reset::Handshake(stage),
                Reset::Connected { after: rng.below(u64::from(round_trips) + 1) as u32 },
            ];
            if transport != Transport::WebSocket {
                points.push(Reset::Poll);
            }
            if transport == Transport::Upgrade {
                points.push(Reset::Upgrade { probed: rng.below(2) == 0 });
            }
            points[rng.below(points.len() as u64) as usize]
        });
        Plan { transport, round_trips, reset }
    }

    fn end_label(&self) -> &'static str {
        match self.reset {
            None => "graceful",
            Some(Reset::Handshake(_)) => "reset during the handshake",
            Some(Reset::Poll) => "reset with a poll pending",
            Some(Reset::Upgrade { .. }) => "reset during the upgrade",
            Some(Reset::Connected { .. }) => "reset once connected",
        }
    }

    fn resets_at(&self, point: Reset) -> bool {
        self.reset == Some(point)
    }
}

/// SplitMix64: enough to spread the choices, and the same choices for the same seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % n.max(1)
    }
}

/// `future` within [`STEP_LIMIT`], its error named after `step`.
async fn step<T>(step: &str, future: impl Future<Output = std::io::Result<T>>) -> Result<T, String> {
    match timeout(STEP_LIMIT, future).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(format!("{step}: {e}").chars().take(160).collect()),
        Err(_) => Err(format!("{step}: no answer within {} s", STEP_LIMIT.as_secs())),
    }
}

/// A joined session on either transport.
enum Joined {
    Polling(Polling),
    Ws(Ws),
}

impl Joined {
    async fn echo(&mut self, id: u32) -> Result<(), String> {
        let request = format!(r#"42{id}["echo",{{"seq":{id},"text":"churn"}}]"#);
        let answer = format!("43{id}[");
        match self {
            Joined::Polling(p) => {
                step("echo", p.send(request.as_bytes())).await?;
                step("echo answer", p.until(answer.as_bytes())).await
            }
            Joined::Ws(ws) => {
                step("echo", ws.send_text(request.as_bytes())).await?;
                step("echo answer", text_until(ws, answer.as_bytes())).await
            }
        }
    }

    /// Leaves as socket.io-client's `disconnect()` does: `41`, then the Engine.IO close
    /// (a `1` packet on long-polling, a close frame on WebSocket).
    async fn leave(self) -> Result<(), String> {
        match self {
            Joined::Polling(mut p) => step("leave", p.send(b"41\x1e1")).await,
            Joined::Ws(mut ws) => {
                step("leave", ws.send_text(b"41")).await?;
                if ws.close(STEP_LIMIT).await {
                    Ok(())
                } else {
                    Err("leave: the server did not close the WebSocket".into())
                }
            }
        }
    }

    fn reset(self) {
        match self {
            Joined::Polling(p) => p.reset(),
            Joined::Ws(ws) => ws.reset(),
        }
    }
}

/// Reads WebSocket messages until a text message starting with `prefix`.
async fn text_until(ws: &mut Ws, prefix: &[u8]) -> std::io::Result<()> {
    loop {
        if let Msg::Text(t) = ws.recv().await? {
            if t.starts_with(prefix) {
                return Ok(());
            }
        }
    }
}

/// One session along `plan`; `Err` only for what the plan did not call for.
async fn session(addr: &str, plan: &Plan, round_trips: &mut u64) -> Result<(), String> {
    let joined = match plan.transport {
        Transport::WebSocket => websocket(addr, plan).await?.map(Joined::Ws),
        Transport::Polling | Transport::Upgrade => match polling(addr, plan).await? {
            None => None,
            Some(mut p) if plan.resets_at(Reset::Poll) => {
                step("poll", p.poll()).await?;
                p.reset();
                None
            }
            Some(p) if plan.transport == Transport::Upgrade => upgrade(addr, p, plan).await?.map(Joined::Ws),
            Some(p) => Some(Joined::Polling(p)),
        },
    };
    let Some(mut joined) = joined else { return Ok(()) };
    for n in 0..=plan.round_trips {
        if plan.resets_at(Reset::Connected { after: n }) {
            joined.reset();
            return Ok(());
        }
        if n < plan.round_trips {
            joined.echo(n).await?;
            *round_trips += 1;
        }
    }
    joined.leave().await
}

/// A WebSocket session joined to `/`, or `None` if the plan resets during the handshake.
async fn websocket(addr: &str, plan: &Plan) -> Result<Option<Ws>, String> {
    if plan.resets_at(Reset::Handshake(Stage::Requested)) {
        let mut stream = step("connect", TcpStream::connect(addr)).await?;
        step("upgrade request", stream.write_all(crate::upgrade_request(addr, WEBSOCKET).as_bytes())).await?;
        let _ = stream.set_zero_linger();
        return Ok(None);
    }
    let mut ws = step("websocket handshake", Ws::open(addr, WEBSOCKET, Proto::SocketIo)).await?;
    step("open packet", text_until(&mut ws, b"0")).await?;
    if plan.resets_at(Reset::Handshake(Stage::Opened)) {
        ws.reset();
        return Ok(None);
    }
    step("join", ws.send_text(b"40")).await?;
    if plan.resets_at(Reset::Handshake(Stage::Joining)) {
        ws.reset();
        return Ok(None);
    }
    step("join answer", text_until(&mut ws, b"40{")).await?;
    Ok(Some(ws))
}

/// A long-polling session joined to `/`, or `None` if the plan resets during the handshake.
async fn polling(addr: &str, plan: &Plan) -> Result<Option<Polling>, String> {
    if plan.resets_at(Reset::Handshake(Stage::Requested)) {
        let mut http = step("connect", Http::connect(addr)).await?;
        step("handshake request", http.send("GET", POLLING_HANDSHAKE, None)).await?;
        http.reset();
        return Ok(None);
    }
    let mut p = step("polling handshake", Polling::handshake(addr)).await?;
    if plan.resets_at(Reset::Handshake(Stage::Opened)) {
        p.reset();
        return Ok(None);
    }
    step("join", p.send(b"40")).await?;
    if plan.resets_at(Reset::Handshake(Stage::Joining)) {
        p.reset();
        return Ok(None);
    }
    step("join answer", p.until(b"40{")).await?;
    Ok(Some(p))
}

/// Upgrades a joined long-polling session as socket.io-client does: a GET pending, a WebSocket
/// probed with `2probe` / `3probe`, the pending GET released (the server answers it with a
/// `noop`), then `5`. `None` if the plan resets during the upgrade.
async fn upgrade(addr: &str, mut p: Polling, plan: &Plan) -> Result<Option<Ws>, String> {
    step("poll", p.poll()).await?;
    let target = format!("{WEBSOCKET}&sid={}", p.sid());
    let mut ws = step("probe handshake", Ws::open(addr, &target, Proto::SocketIo)).await?;
    step("probe", ws.send_text(b"2probe")).await?;
    if plan.resets_at(Reset::Upgrade { probed: false }) {
        ws.reset();
        p.reset();
        return Ok(None);
    }
    step("probe answer", text_until(&mut ws, b"3probe")).await?;
    if plan.resets_at(Reset::Upgrade { probed: true }) {
        ws.reset();
        p.reset();
        return Ok(None);
    }
    step("poll answer", p.poll_answer()).await?;
    step("upgrade", ws.send_text(b"5")).await?;
    Ok(Some(ws))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_cover_every_transport_and_end() {
        let mut rng = Rng(7);
        let mut seen = BTreeMap::new();
        for _ in 0..2_000 {
            let plan = Plan::draw(&mut rng);
            *seen.entry((plan.transport.label(), plan.end_label())).or_insert(0) += 1;
        }
        // polling: 4 ends, websocket: 3, upgrade: 5.
        assert_eq!(seen.len(), 12, "{seen:?}");
    }
}
