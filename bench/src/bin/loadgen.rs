//! The load generator: runs one scenario against one running server and prints one JSON line
//! of results. `compare` runs it for every peer; it can also be run by hand:
//!
//! ```text
//! cargo run --release -p bench --bin loadgen -- --addr 127.0.0.1:3000 --pid PID --scenario echo --clients 100
//! ```
//!
//! The server implements the event contract of `socketio-server/examples/echo.rs` (`echo`
//! acknowledged with its argument read as a value, `echo-raw` the same without parsing where
//! the server can, `bcast` sent to every socket of `/`), or, with
//! `--proto raw`, the plain WebSocket contract of the floor peers (a message starting with `b`
//! is sent to everyone, any other is echoed).
//!
//! | scenario | what runs | figures |
//! |---|---|---|
//! | `connect` | `--clients` sessions opened (WebSocket, Engine.IO open, Socket.IO CONNECT to `/`), `--concurrency` at a time, kept open | connects/s, latency p50/p99, server CPU per connect |
//! | `echo` | each of `--clients` sessions sends `echo` and waits for the ack, for `--seconds` | round trips/s, latency p50/p99, server CPU per round trip |
//! | `echo-raw` | the same with event `echo-raw`, which a server may answer without parsing its arguments (a fast path; the plain WebSocket peers treat it as `echo`) | the same |
//! | `binary` | the same with one binary attachment of `--size` bytes | MiB/s each way, server CPU per round trip |
//! | `broadcast` | `--clients` sessions; one sends `bcast` and waits until every session got it, `--rounds` times | server CPU per delivery, time to first and last client; with `--settle-ms`, the server's RSS per idle client before the first round |
//! | `idle` | `--clients` sessions opened, then idle for 2 s | server RSS per client |
//! | `polling` | `--clients` long-polling sessions (two keep-alive connections each) echoing for `--seconds` | round trips/s, latency, server CPU per round trip |
//!
//! Server CPU is the growth of the sum of `/proc/PID/task/*/schedstat` over the measured phase.
//! Every phase is bounded: client counts by [`MAX_CLIENTS`], waits by timeouts.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bench::{Msg, Polling, Proto, Samples, Ws};
use serde_json::{json, Value};
use tokio::sync::Notify;
use tokio::time::timeout;

/// The most sessions one run opens.
const MAX_CLIENTS: usize = 20_000;
/// How long one step (a connect, a reply, a broadcast round) may take.
const STEP_LIMIT: Duration = Duration::from_secs(30);

struct Args {
    addr: String,
    pid: u32,
    proto: Proto,
    scenario: String,
    clients: usize,
    concurrency: usize,
    seconds: f64,
    rounds: usize,
    size: usize,
    settle: Duration,
}

fn parse_args() -> std::io::Result<Args> {
    let mut a = Args {
        addr: "127.0.0.1:3000".into(),
        pid: 0,
        proto: Proto::SocketIo,
        scenario: String::new(),
        clients: 1,
        concurrency: 32,
        seconds: 3.0,
        rounds: 10,
        size: 64 * 1024,
        settle: Duration::ZERO,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| bench::invalid(&format!("{flag} needs a value")));
        match flag.as_str() {
            "--addr" => a.addr = value()?,
            "--pid" => a.pid = number(&value()?)?,
            "--proto" => {
                a.proto = match value()?.as_str() {
                    "socketio" => Proto::SocketIo,
                    "raw" => Proto::Raw,
                    other => return Err(bench::invalid(&format!("unknown --proto {other}"))),
                }
            }
            "--scenario" => a.scenario = value()?,
            "--clients" => a.clients = number(&value()?)?,
            "--concurrency" => a.concurrency = number(&value()?)?,
            "--seconds" => a.seconds = number(&value()?)?,
            "--rounds" => a.rounds = number(&value()?)?,
            "--size" => a.size = number(&value()?)?,
            "--settle-ms" => a.settle = Duration::from_millis(number::<u64>(&value()?)?.min(60_000)),
            other => return Err(bench::invalid(&format!("unknown flag {other}"))),
        }
    }
    if a.pid == 0 {
        return Err(bench::invalid("--pid (the server's process id) is required"));
    }
    a.clients = a.clients.clamp(1, MAX_CLIENTS);
    a.concurrency = a.concurrency.clamp(1, a.clients);
    a.seconds = a.seconds.clamp(0.1, 120.0);
    a.rounds = a.rounds.clamp(1, 10_000);
    a.size = a.size.clamp(1, 900_000);
    Ok(a)
}

fn number<T: std::str::FromStr>(text: &str) -> std::io::Result<T> {
    text.parse().map_err(|_| bench::invalid(&format!("{text:?} is not a number")))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let result = match parse_args() {
        Ok(args) => run(&args).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(value) => println!("{value}"),
        Err(e) => {
            println!("{}", json!({ "error": e.to_string() }));
            std::process::exit(1);
        }
    }
}

async fn run(a: &Args) -> std::io::Result<Value> {
    match a.scenario.as_str() {
        "connect" => connect(a).await,
        "echo" => echo(a, false, "echo").await,
        "echo-raw" => echo(a, false, "echo-raw").await,
        "binary" => echo(a, true, "echo").await,
        "broadcast" => broadcast(a).await,
        "idle" => idle(a).await,
        "polling" if a.proto == Proto::SocketIo => polling(a).await,
        other => Err(bench::invalid(&format!("unknown scenario {other:?} for this protocol"))),
    }
}

/// Server CPU in microseconds per operation over a phase.
struct Meter {
    pid: u32,
    cpu: u64,
    at: Instant,
}

impl Meter {
    fn start(pid: u32) -> std::io::Result<Self> {
        Ok(Meter { pid, cpu: bench::cpu_ns(pid)?, at: Instant::now() })
    }

    /// (seconds elapsed, server CPU µs per op).
    fn stop(&self, ops: usize) -> std::io::Result<(f64, f64)> {
        let cpu = bench::cpu_ns(self.pid)?.saturating_sub(self.cpu);
        Ok((self.at.elapsed().as_secs_f64(), cpu as f64 / 1000.0 / ops.max(1) as f64))
    }
}

/// Opens `n` sessions, `concurrency` at a time; returns them with each connect's latency.
async fn open_many(a: &Args, n: usize) -> std::io::Result<(Vec<Ws>, Samples)> {
    let per_worker = n.div_ceil(a.concurrency);
    let mut workers = Vec::new();
    for w in 0..a.concurrency {
        let count = per_worker.min(n.saturating_sub(w * per_worker));
        let (addr, proto) = (a.addr.clone(), a.proto);
        workers.push(tokio::spawn(async move {
            let mut out = Vec::with_capacity(count);
            let mut samples = Samples::default();
            for _ in 0..count {
                let started = Instant::now();
                let ws = timeout(STEP_LIMIT, Ws::connect(&addr, proto))
                    .await
                    .map_err(|_| bench::invalid("a connect timed out"))??;
                samples.push(started.elapsed());
                out.push(ws);
            }
            Ok::<_, std::io::Error>((out, samples))
        }));
    }
    let mut all = Vec::with_capacity(n);
    let mut samples = Samples::default();
    for worker in workers {
        let (sockets, s) = worker.await.map_err(std::io::Error::other)??;
        all.extend(sockets);
        samples.extend(s);
    }
    Ok((all, samples))
}

async fn connect(a: &Args) -> std::io::Result<Value> {
    // One session first, so that lazily created server state is not counted.
    drop(Ws::connect(&a.addr, a.proto).await?);
    let meter = Meter::start(a.pid)?;
    let (sockets, mut latency) = open_many(a, a.clients).await?;
    let (seconds, cpu_us) = meter.stop(sockets.len())?;
    Ok(json!({
        "scenario": "connect",
        "clients": sockets.len(),
        "per_second": sockets.len() as f64 / seconds,
        "p50_us": latency.percentile(50.0),
        "p99_us": latency.percentile(99.0),
        "cpu_us_per_op": cpu_us,
    }))
}

/// The request of event `event` and the prefix of its answer, for ack id `id`.
fn echo_request(proto: Proto, id: u64, binary: bool, event: &str) -> (Vec<u8>, Vec<u8>) {
    let body = format!(r#"{{"seq":{id},"text":"hello, load generator"}}"#);
    match (proto, binary) {
        (Proto::SocketIo, false) => {
            (format!("42{id}[\"{event}\",{body}]").into_bytes(), format!("43{id}[").into_bytes())
        }
        (Proto::SocketIo, true) => (
            format!("451-{id}[\"{event}\",{{\"_placeholder\":true,\"num\":0}}]").into_bytes(),
            format!("461-{id}[").into_bytes(),
        ),
        (Proto::Raw, _) => (format!("e{body}").into_bytes(), Vec::new()),
    }
}

async fn echo(a: &Args, binary: bool, event: &'static str) -> std::io::Result<Value> {
    let (sockets, _) = open_many(a, a.clients).await?;
    let deadline = Instant::now() + Duration::from_secs_f64(a.seconds);
    let meter = Meter::start(a.pid)?;
    let mut tasks = Vec::new();
    for mut ws in sockets {
        let (proto, size) = (a.proto, a.size);
        tasks.push(tokio::spawn(async move {
            let attachment = vec![0u8; size];
            let mut samples = Samples::default();
            let mut id = 0u64;
            while Instant::now() < deadline {
                id += 1;
                let (request, answer) = echo_request(proto, id, binary, event);
                let started = Instant::now();
                match (proto, binary) {
                    (Proto::SocketIo, true) => {
                        ws.queue(0x1, &request);
                        ws.queue(0x2, &attachment);
                        ws.flush().await?;
                    }
                    (Proto::Raw, true) => ws.send_binary(&attachment).await?,
                    _ => ws.send_text(&request).await?,
                }
                loop {
                    let got =
                        timeout(STEP_LIMIT, ws.recv()).await.map_err(|_| bench::invalid("no echo"))??;
                    let done = match (&got, proto, binary) {
                        (Msg::Text(t), Proto::SocketIo, false) => t.starts_with(&answer),
                        (Msg::Text(t), Proto::SocketIo, true) if t.starts_with(&answer) => {
                            match timeout(STEP_LIMIT, ws.recv())
                                .await
                                .map_err(|_| bench::invalid("no attachment"))??
                            {
                                Msg::Binary(data) if data.len() == size => true,
                                other => {
                                    return Err(bench::invalid(&format!(
                                        "expected the attachment, got {other:?}"
                                    )))
                                }
                            }
                        }
                        (Msg::Text(t), Proto::Raw, false) => *t == request[..],
                        (Msg::Binary(d), Proto::Raw, true) => d.len() == size,
                        _ => false,
                    };
                    if done {
                        break;
                    }
                }
                samples.push(started.elapsed());
            }
            Ok::<_, std::io::Error>(samples)
        }));
    }
    let mut result = round_trips(if binary { "binary" } else { event }, a, tasks, &meter).await?;
    if binary {
        let trips = result["round_trips"].as_f64().unwrap_or(0.0);
        let seconds = result["seconds"].as_f64().unwrap_or(1.0);
        result["mib_per_s"] = json!(trips * a.size as f64 / seconds / 1_048_576.0);
    }
    Ok(result)
}

/// Waits for the clients' loops and reports their round trips: rate, latency, server CPU.
async fn round_trips(
    scenario: &str,
    a: &Args,
    tasks: Vec<tokio::task::JoinHandle<std::io::Result<Samples>>>,
    meter: &Meter,
) -> std::io::Result<Value> {
    let mut latency = Samples::default();
    for task in tasks {
        latency.extend(task.await.map_err(std::io::Error::other)??);
    }
    let trips = latency.len();
    let (seconds, cpu_us) = meter.stop(trips)?;
    Ok(json!({
        "scenario": scenario,
        "clients": a.clients,
        "round_trips": trips,
        "seconds": seconds,
        "per_second": trips as f64 / seconds,
        "p50_us": latency.percentile(50.0),
        "p99_us": latency.percentile(99.0),
        "cpu_us_per_op": cpu_us,
    }))
}

/// Arrival times of one broadcast round, in nanoseconds after the round started.
#[derive(Default)]
struct Round {
    started: AtomicU64,
    first: AtomicU64,
    last: AtomicU64,
    received: AtomicUsize,
    done: Notify,
}

fn is_broadcast(msg: &Msg, proto: Proto) -> bool {
    match (msg, proto) {
        (Msg::Text(t), Proto::SocketIo) => t.starts_with(b"42[\"bcast\""),
        (Msg::Text(t), Proto::Raw) => t.first() == Some(&b'b'),
        _ => false,
    }
}

/// Records one delivery of the current round; the last of `clients` wakes the sender.
fn arrive(round: &Round, base: Instant, clients: usize) {
    let at = (base.elapsed().as_nanos() as u64).saturating_sub(round.started.load(Ordering::Acquire));
    round.first.fetch_min(at, Ordering::AcqRel);
    round.last.fetch_max(at, Ordering::AcqRel);
    if round.received.fetch_add(1, Ordering::AcqRel) + 1 == clients {
        round.done.notify_one();
    }
}

async fn broadcast(a: &Args) -> std::io::Result<Value> {
    let clients = a.clients.max(2);
    drop(Ws::connect(&a.addr, a.proto).await?);
    tokio::time::sleep(a.settle / 4).await;
    let rss_before = bench::rss_bytes(a.pid)?;
    let (mut sockets, _) = open_many(a, clients).await?;
    let mut sender = sockets.pop().ok_or_else(|| bench::invalid("no sessions"))?;
    let base = Instant::now();
    let round = Arc::new(Round::default());
    let mut receivers = Vec::new();
    for mut ws in sockets {
        let (round, proto) = (round.clone(), a.proto);
        receivers.push(tokio::spawn(async move {
            while let Ok(msg) = ws.recv().await {
                if is_broadcast(&msg, proto) {
                    arrive(&round, base, clients);
                }
            }
        }));
    }
    let payload: &[u8] = match a.proto {
        Proto::SocketIo => br#"42["bcast",{"text":"hello, everyone","n":1}]"#,
        Proto::Raw => br#"b{"text":"hello, everyone","n":1}"#,
    };
    // Idle sessions first: what the server holds for each one.
    tokio::time::sleep(a.settle).await;
    let rss_after = bench::rss_bytes(a.pid)?;
    let (mut first, mut last) = (Samples::default(), Samples::default());
    let meter = Meter::start(a.pid)?;
    for _ in 0..a.rounds {
        round.received.store(0, Ordering::Release);
        round.first.store(u64::MAX, Ordering::Release);
        round.last.store(0, Ordering::Release);
        round.started.store(base.elapsed().as_nanos() as u64, Ordering::Release);
        let done = round.done.notified();
        sender.send_text(payload).await?;
        loop {
            let msg =
                timeout(STEP_LIMIT, sender.recv()).await.map_err(|_| bench::invalid("no broadcast"))??;
            if is_broadcast(&msg, a.proto) {
                arrive(&round, base, clients);
                break;
            }
        }
        timeout(STEP_LIMIT, done).await.map_err(|_| {
            bench::invalid(&format!(
                "a broadcast reached {} of {clients} clients",
                round.received.load(Ordering::Acquire)
            ))
        })?;
        first.push(Duration::from_nanos(round.first.load(Ordering::Acquire)));
        last.push(Duration::from_nanos(round.last.load(Ordering::Acquire)));
    }
    let (_, cpu_us) = meter.stop(a.rounds * clients)?;
    for receiver in receivers {
        receiver.abort();
    }
    Ok(json!({
        "scenario": "broadcast",
        "clients": clients,
        "rounds": a.rounds,
        "cpu_us_per_op": cpu_us,
        "first_ms": first.percentile(50.0) as f64 / 1000.0,
        "last_ms": last.percentile(50.0) as f64 / 1000.0,
        "rss_per_client": rss_after.saturating_sub(rss_before) as f64 / clients as f64,
    }))
}

async fn idle(a: &Args) -> std::io::Result<Value> {
    drop(Ws::connect(&a.addr, a.proto).await?);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = bench::rss_bytes(a.pid)?;
    let (sockets, _) = open_many(a, a.clients).await?;
    // Keep answering pings while idle.
    let holders: Vec<_> = sockets
        .into_iter()
        .map(|mut ws| tokio::spawn(async move { while ws.recv().await.is_ok() {} }))
        .collect();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = bench::rss_bytes(a.pid)?;
    for holder in holders {
        holder.abort();
    }
    Ok(json!({
        "scenario": "idle",
        "clients": a.clients,
        "rss_before": before,
        "rss_after": after,
        "rss_per_client": after.saturating_sub(before) as f64 / a.clients as f64,
    }))
}

async fn polling(a: &Args) -> std::io::Result<Value> {
    let mut sessions = Vec::new();
    for _ in 0..a.clients {
        sessions.push(
            timeout(STEP_LIMIT, Polling::open(&a.addr))
                .await
                .map_err(|_| bench::invalid("open timed out"))??,
        );
    }
    let deadline = Instant::now() + Duration::from_secs_f64(a.seconds);
    let meter = Meter::start(a.pid)?;
    let mut tasks = Vec::new();
    for mut session in sessions {
        tasks.push(tokio::spawn(async move {
            let mut samples = Samples::default();
            let mut id = 0u64;
            while Instant::now() < deadline {
                id += 1;
                let (request, answer) = echo_request(Proto::SocketIo, id, false, "echo");
                let started = Instant::now();
                session.send(&request).await?;
                timeout(STEP_LIMIT, session.until(&answer))
                    .await
                    .map_err(|_| bench::invalid("no echo"))??;
                samples.push(started.elapsed());
            }
            Ok::<_, std::io::Error>(samples)
        }));
    }
    round_trips("polling", a, tasks, &meter).await
}
