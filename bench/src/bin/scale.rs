//! How many concurrent Socket.IO clients one server process holds, and what holding them costs.
//!
//! ```text
//! cargo run --release -p bench --bin scale -- --clients 19500 --peers ours,socketioxide,node
//! cargo run --release -p bench --bin scale -- --clients 100000 --peers ours
//! cargo run --release -p bench --bin scale -- --clients 10000 --addr 127.0.0.1:3000 --pid PID
//! ```
//!
//! Steps, each bounded in time:
//!
//! 1. `--clients N` WebSocket clients connect (Engine.IO open, Socket.IO `CONNECT` to `/`),
//!    `--concurrency` (100) at a time per load-generator process, from the source addresses
//!    127.0.0.2, 127.0.0.3, ... (`--per-source` (10 000) clients each: a source address has
//!    about 28 000 ephemeral ports, and Linux's `bind` to port 0 searches half of them first,
//!    slowly once that half is mostly taken). One process holds at most `--per-worker` clients (its
//!    file-descriptor hard limit less 100, at most 25 000): the tool starts itself again as
//!    that many worker processes as it needs, driven by lines on their standard input and
//!    answering JSON lines on their standard output. A connect that takes more than
//!    `--connect-timeout-ms` (10 000) fails; once `--max-failures` (1 000) have failed, no
//!    new connect starts. Every process raises its soft `RLIMIT_NOFILE` to the hard limit.
//! 2. After 2 s idle: the server's RSS growth per client and its file descriptors.
//! 3. One `bcast` (the event contract) from one more client, the sender: the time until the
//!    first and the last client got it. Times cross processes, so they are read from the
//!    system's real-time clock (`SystemTime`, `CLOCK_REALTIME`, which every process on the
//!    machine shares, unlike `Instant`, whose values do not leave their process): the sender
//!    reads it right before writing the `bcast` frame, each client right after reading the
//!    one it receives. A step of that clock (NTP) during the broadcast would show as a negative
//!    or absurd time and is reported as such.
//! 4. `--heartbeat-seconds` (120) idle: clients answer the server's pings as socket.io-client
//!    does; every client the server disconnects is counted (there must be none).
//! 5. Every client leaves (`41`, then a WebSocket close); after `--settle-seconds` (5), the
//!    server's RSS and file descriptors against the baseline taken before step 1.
//!
//! `--peers a,b` builds and starts each peer of `compare` in turn (pinned to core 0, the
//! load generators to core 1, its file-descriptor limits raised to this process's hard limit
//! with `prlimit`, its output in `target/scale-PEER.log`); `--addr` and `--pid` measure a
//! running server instead. Each run prints one JSON line on standard output, and a Markdown
//! table of the figures ends the output; progress goes to standard error.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bench::peers::{Launch, PeerProcess};
use bench::{Msg, Proto, Ws};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{sleep, timeout, Instant};

/// The most clients one run asks for.
const MAX_CLIENTS: u64 = 10_000_000;
/// File descriptors a worker keeps for itself besides its clients.
const FD_RESERVE: u64 = 100;
/// The most clients one worker holds by default (more workers spread over more cores).
const PER_WORKER: u64 = 25_000;
/// The most source addresses (127.0.0.2 to 127.0.0.251).
const MAX_SOURCES: u64 = 250;
/// How long a client waits for the server to close after its close frame.
const CLOSE_LIMIT: Duration = Duration::from_secs(10);
/// How long the broadcast may take to reach every client.
const BCAST_LIMIT: Duration = Duration::from_secs(60);
/// How long a worker's answer to a line may take.
const ANSWER_LIMIT: Duration = Duration::from_secs(60);
/// The broadcast, as the sender emits it.
const BCAST: &[u8] = br#"42["bcast",{"text":"hello, everyone"}]"#;

#[derive(Debug, Clone)]
struct Args {
    clients: u64,
    peers: Option<Vec<String>>,
    addr: Option<SocketAddr>,
    pid: u32,
    port: u16,
    heartbeat: Duration,
    per_worker: u64,
    per_source: u64,
    concurrency: u64,
    connect_timeout: Duration,
    max_failures: u64,
    settle: Duration,
}

fn parse_args(args: Vec<String>) -> Result<Args, String> {
    let hard = fd_hard_limit();
    let mut a = Args {
        clients: 10_000,
        peers: None,
        addr: None,
        pid: 0,
        port: 3700,
        heartbeat: Duration::from_secs(120),
        per_worker: hard.saturating_sub(FD_RESERVE).clamp(1, PER_WORKER),
        per_source: 10_000,
        concurrency: 100,
        connect_timeout: Duration::from_secs(10),
        max_failures: 1_000,
        settle: Duration::from_secs(5),
    };
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--clients" => a.clients = number::<u64>(&value()?)?.clamp(1, MAX_CLIENTS),
            "--peers" => a.peers = Some(value()?.split(',').map(str::to_owned).collect()),
            "--addr" => a.addr = Some(value()?.parse().map_err(|_| "--addr takes IP:PORT")?),
            "--pid" => a.pid = number(&value()?)?,
            "--port" => a.port = number(&value()?)?,
            "--heartbeat-seconds" => a.heartbeat = Duration::from_secs(number::<u64>(&value()?)?.min(3_600)),
            "--per-worker" => {
                a.per_worker = number::<u64>(&value()?)?.clamp(1, hard.saturating_sub(FD_RESERVE).max(1))
            }
            "--per-source" => a.per_source = number::<u64>(&value()?)?.clamp(1, 28_000),
            "--concurrency" => a.concurrency = number::<u64>(&value()?)?.clamp(1, 10_000),
            "--connect-timeout-ms" => {
                a.connect_timeout = Duration::from_millis(number::<u64>(&value()?)?.clamp(100, 120_000))
            }
            "--max-failures" => a.max_failures = number::<u64>(&value()?)?.max(1),
            "--settle-seconds" => a.settle = Duration::from_secs(number::<u64>(&value()?)?.min(600)),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if a.peers.is_some() == (a.addr.is_some() && a.pid != 0) {
        return Err("give either --peers a,b or --addr IP:PORT and --pid PID".into());
    }
    if a.clients.div_ceil(a.per_source) > MAX_SOURCES {
        return Err(format!("{} clients need more than {MAX_SOURCES} source addresses", a.clients));
    }
    Ok(a)
}

fn number<T: std::str::FromStr>(text: &str) -> Result<T, String> {
    text.parse().map_err(|_| format!("{text:?} is not a number"))
}

/// This process's hard limit of open files.
fn fd_hard_limit() -> u64 {
    rustix::process::getrlimit(rustix::process::Resource::Nofile).maximum.unwrap_or(u64::MAX)
}

/// Raises this process's soft limit of open files to its hard limit; the limit now.
fn raise_fd_limit() -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut limit = getrlimit(Resource::Nofile);
    limit.current = limit.maximum;
    let _ = setrlimit(Resource::Nofile, limit);
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

/// Nanoseconds since the Unix epoch on the real-time clock every process shares.
fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--worker") {
        if let Err(e) = worker(&args[1..]).await {
            eprintln!("scale worker: {e}");
            std::process::exit(1);
        }
        return;
    }
    if let Err(e) = coordinate(args).await {
        eprintln!("scale: {e}");
        println!("{}", json!({ "error": e }));
        std::process::exit(1);
    }
}

async fn coordinate(args: Vec<String>) -> Result<(), String> {
    let a = parse_args(args)?;
    raise_fd_limit();
    let Some(names) = &a.peers else {
        let addr = a.addr.ok_or("no --addr")?;
        let mut result = measure(&a, addr, a.pid, None).await?;
        result["peer"] = json!(addr.to_string());
        println!("{result}\n\n{}", table(&a, &[result.clone()]));
        return Ok(());
    };
    bench::peers::enter_workspace_root()?;
    let peers = bench::peers::select(Some(names));
    if peers.is_empty() || peers.iter().any(|p| p.proto != "socketio") {
        return Err(format!("--peers takes Socket.IO peers (ours, socketioxide, node), not {names:?}"));
    }
    bench::peers::prepare(&peers)?;
    let mut results = Vec::new();
    for (i, peer) in peers.iter().enumerate() {
        let port = a.port + i as u16;
        let log = std::path::PathBuf::from(format!("target/scale-{}.log", peer.name));
        let launch = Launch { nofile: Some(fd_hard_limit()), stderr: Some(log.clone()), ..Launch::default() };
        eprintln!("== {}: {} clients", peer.name, a.clients);
        let mut server = PeerProcess::start(peer, port, &launch)?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let pid = server.pid();
        let result = match measure(&a, addr, pid, Some(Started { process: &mut server, log: &log })).await {
            Ok(mut result) => {
                result["peer"] = json!(peer.name);
                result
            }
            Err(e) => json!({ "peer": peer.name, "error": e }),
        };
        server.stop();
        println!("{result}");
        results.push(result);
    }
    println!("\n{}", table(&a, &results));
    Ok(())
}

/// A server this tool started.
struct Started<'a> {
    process: &'a mut PeerProcess,
    /// Where its output goes.
    log: &'a Path,
}

/// The five steps against the server at `addr`, process `pid`. The load generators are pinned
/// to core 1 when the tool started the server (pinned to core 0).
async fn measure(
    a: &Args,
    addr: SocketAddr,
    pid: u32,
    mut server: Option<Started<'_>>,
) -> Result<Value, String> {
    let proc_err = |e: std::io::Error| format!("cannot read /proc/{pid}: {e}");
    let rss = || bench::rss_bytes(pid).map_err(proc_err);
    let fds = || bench::open_fds(pid).map_err(proc_err);
    let host = addr.to_string();
    // Warm up once, then the sender: both before the baseline.
    drop(Ws::connect(&host, Proto::SocketIo).await.map_err(|e| format!("first connect: {e}"))?);
    let mut sender = Sender::start(&host).await?;
    sleep(Duration::from_millis(500)).await;
    let (rss_before, fds_before) = (rss()?, fds()?);

    // 1. Connect.
    let workers_needed = a.clients.div_ceil(a.per_worker);
    let sources = a.clients.div_ceil(a.per_source);
    eprintln!(
        "connecting {} clients: {workers_needed} worker process(es), {sources} source address(es)",
        a.clients
    );
    let mut pool = Pool::spawn(a, addr, workers_needed, sources, server.is_some())?;
    let connect = pool.connect(a).await;
    let connected = connect.connected;
    eprintln!(
        "connected {connected} of {} in {:.1} s, {} failed{}",
        a.clients,
        connect.seconds,
        connect.failed,
        if connect.failures.is_empty() { String::new() } else { format!(": {:?}", connect.failures) }
    );

    // 2. Idle.
    sleep(Duration::from_secs(2)).await;
    let (rss_idle, fds_idle) = (rss()?, fds()?);
    let rss_per_client = rss_idle.saturating_sub(rss_before) as f64 / connected.max(1) as f64;
    eprintln!(
        "idle: server rss {:.1} MiB ({rss_per_client:.0} bytes per client), {fds_idle} fds",
        mib(rss_idle)
    );

    // 3. One broadcast.
    let sent_ns = sender.broadcast().await?;
    let deadline = Instant::now() + BCAST_LIMIT;
    let bcast = loop {
        let answers = pool.ask("bcast?", "bcast", ANSWER_LIMIT).await;
        let received = sum(&answers, "received");
        if received >= sum(&answers, "alive") || Instant::now() >= deadline {
            break answers;
        }
        sleep(Duration::from_millis(200)).await;
    };
    let received = sum(&bcast, "received");
    let first = bcast.iter().filter_map(|v| v["first_ns"].as_u64()).filter(|&t| t != u64::MAX).min();
    let last = bcast.iter().filter_map(|v| v["last_ns"].as_u64()).filter(|&t| t != 0).max();
    let since_sent = |t: Option<u64>| t.map(|t| (t as f64 - sent_ns as f64) / 1e6);
    let (first_ms, last_ms) = (since_sent(first), since_sent(last));
    let show = |ms: Option<f64>| ms.map_or("–".to_owned(), |ms| format!("{ms:.1} ms"));
    eprintln!(
        "broadcast reached {received} of {connected}: the first after {}, the last after {}",
        show(first_ms),
        show(last_ms)
    );

    // 4. Heartbeats.
    let lost_before = sum(&pool.ask("status?", "status", ANSWER_LIMIT).await, "lost");
    let heartbeat_started = Instant::now();
    while heartbeat_started.elapsed() < a.heartbeat {
        let left = a.heartbeat.saturating_sub(heartbeat_started.elapsed());
        sleep(left.min(Duration::from_secs(30))).await;
        if let Some(status) = server.as_mut().and_then(|s| s.process.exited()) {
            return Err(format!("the server exited during the heartbeat step ({status})"));
        }
        let status = pool.ask("status?", "status", ANSWER_LIMIT).await;
        eprintln!(
            "[heartbeat {:>4.0} s] clients alive {}, disconnected {} | server rss {:.1} MiB, {} fds",
            heartbeat_started.elapsed().as_secs_f64(),
            sum(&status, "alive"),
            sum(&status, "lost") - lost_before,
            mib(rss()?),
            fds()?
        );
    }
    let status = pool.ask("status?", "status", ANSWER_LIMIT).await;
    let disconnected = sum(&status, "lost") - lost_before;
    let reasons = merge_counts(&status, "reasons");
    let sender_lost = sender.lost();

    // 5. Everyone leaves.
    let closed = pool.ask("close", "closed", ANSWER_LIMIT + CLOSE_LIMIT).await;
    sleep(a.settle).await;
    let (rss_after, fds_after) = (rss()?, fds()?);
    pool.exit().await;
    sender.stop().await;
    eprintln!(
        "after leaving: server rss {:.1} MiB (baseline {:.1}), {fds_after} fds (baseline {fds_before})",
        mib(rss_after),
        mib(rss_before)
    );

    Ok(json!({
        "clients": a.clients,
        "workers": workers_needed,
        "sources": sources,
        "connected": connected,
        "connect_failed": connect.failed,
        "connect_failures": connect.failures,
        "connect_seconds": connect.seconds,
        "connect_step_seconds": connect.step_seconds,
        "connects_per_s": connected as f64 / connect.seconds.max(1e-3),
        "rss_before": rss_before,
        "fds_before": fds_before,
        "rss_idle": rss_idle,
        "fds_idle": fds_idle,
        "rss_per_client": rss_per_client,
        "bcast_received": received,
        "bcast_first_ms": first_ms,
        "bcast_last_ms": last_ms,
        "heartbeat_seconds": a.heartbeat.as_secs(),
        "heartbeat_disconnected": disconnected,
        "heartbeat_sender_lost": sender_lost,
        "disconnect_reasons": reasons,
        "closed_clean": sum(&closed, "clean"),
        "closed_unclean": sum(&closed, "unclean"),
        "rss_after": rss_after,
        "fds_after": fds_after,
        "server_log": server.map(|s| server_log(s.log)),
    }))
}

/// The sum of `field` over the workers' answers.
fn sum(answers: &[Value], field: &str) -> u64 {
    answers.iter().filter_map(|v| v[field].as_u64()).sum()
}

/// The counts of `field` (an object of counts) added over the workers' answers.
fn merge_counts(answers: &[Value], field: &str) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for counts in answers.iter().filter_map(|v| v[field].as_object()) {
        for (k, v) in counts {
            *out.entry(k.clone()).or_default() += v.as_u64().unwrap_or(0);
        }
    }
    out
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / 1_048_576.0
}

/// What a started server wrote (standard output and error): how many lines, and the first five
/// distinct ones (colours and timestamps cut off).
fn server_log(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut distinct: Vec<String> = Vec::new();
    for line in text.lines() {
        let plain = without_colours(line);
        // tracing's lines start with an RFC 3339 timestamp.
        let line = match plain.split_once(' ') {
            Some((stamp, rest)) if stamp.len() > 20 && stamp.as_bytes()[4] == b'-' => rest.trim(),
            _ => plain.trim(),
        };
        if distinct.len() < 5 && !distinct.iter().any(|d| d == line) {
            distinct.push(line.to_owned());
        }
    }
    json!({ "path": path.display().to_string(), "lines": text.lines().count(), "distinct": distinct })
}

/// `line` without its ANSI colour sequences (`ESC [ ... m`).
fn without_colours(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(start) = rest.find('\u{1b}') {
        out.push_str(&rest[..start]);
        rest = rest[start..].find('m').map_or("", |end| &rest[start + end + 1..]);
    }
    out.push_str(rest);
    out
}

/// The client that sends the broadcast, kept alive (answering pings) in its own task.
struct Sender {
    send: mpsc::Sender<oneshot::Sender<std::io::Result<u64>>>,
    task: tokio::task::JoinHandle<bool>,
    lost: Arc<AtomicBool>,
}

impl Sender {
    async fn start(host: &str) -> Result<Self, String> {
        let mut ws = Ws::connect(host, Proto::SocketIo).await.map_err(|e| format!("sender: {e}"))?;
        let (send, mut commands) = mpsc::channel::<oneshot::Sender<std::io::Result<u64>>>(1);
        let lost = Arc::new(AtomicBool::new(false));
        let gone = lost.clone();
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    command = commands.recv() => match command {
                        Some(reply) => {
                            let at = now_ns();
                            let _ = reply.send(ws.send_text(BCAST).await.map(|()| at));
                        }
                        None => return ws.close(CLOSE_LIMIT).await,
                    },
                    msg = ws.recv() => if msg.is_err() {
                        gone.store(true, Ordering::Relaxed);
                        return false;
                    },
                }
            }
        });
        Ok(Sender { send, task, lost })
    }

    /// Sends the broadcast; the real-time clock right before its frame was written.
    async fn broadcast(&mut self) -> Result<u64, String> {
        let (reply, answer) = oneshot::channel();
        self.send.send(reply).await.map_err(|_| "the sender is gone")?;
        answer.await.map_err(|_| "the sender is gone")?.map_err(|e| format!("sending the broadcast: {e}"))
    }

    /// Whether the server ended the sender's connection.
    fn lost(&self) -> bool {
        self.lost.load(Ordering::Relaxed)
    }

    async fn stop(self) {
        drop(self.send);
        let _ = timeout(CLOSE_LIMIT * 2, self.task).await;
    }
}

/// The outcome of the connect step.
struct Connected {
    connected: u64,
    failed: u64,
    failures: BTreeMap<String, u64>,
    /// From the workers' start to the last successful connect.
    seconds: f64,
    /// The whole step, failures and timeouts included.
    step_seconds: f64,
}

/// The worker processes and the lines they print.
struct Pool {
    workers: Vec<(Child, ChildStdin)>,
    lines: mpsc::UnboundedReceiver<(usize, Value)>,
    started: Instant,
}

impl Pool {
    fn spawn(a: &Args, addr: SocketAddr, count: u64, sources: u64, pin: bool) -> Result<Self, String> {
        // This program as it runs, even if a build has replaced its file since.
        let exe = format!("/proc/{}/exe", std::process::id());
        let (tx, lines) = mpsc::unbounded_channel();
        let mut workers = Vec::new();
        for w in 0..count {
            let first = w * a.per_worker;
            let share = a.per_worker.min(a.clients - first);
            let mut command = if pin {
                let mut c = Command::new("taskset");
                c.args(["-c", "1"]).arg(&exe);
                c
            } else {
                Command::new(&exe)
            };
            command
                .arg("--worker")
                .args(["--addr", &addr.to_string()])
                .args(["--first", &first.to_string(), "--count", &share.to_string()])
                .args(["--sources", &sources.to_string()])
                .args(["--concurrency", &a.concurrency.to_string()])
                .args(["--connect-timeout-ms", &a.connect_timeout.as_millis().to_string()])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .kill_on_drop(true);
            let mut child = command.spawn().map_err(|e| format!("cannot start worker {w}: {e}"))?;
            let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
                return Err("a worker without pipes".into());
            };
            let tx = tx.clone();
            let index = workers.len();
            tokio::spawn(async move {
                let mut reader = BufReader::new(stdout).lines();
                while let Ok(Some(line)) = reader.next_line().await {
                    if let Ok(value) = serde_json::from_str::<Value>(&line) {
                        if tx.send((index, value)).is_err() {
                            return;
                        }
                    }
                }
            });
            workers.push((child, stdin));
        }
        Ok(Pool { workers, lines, started: Instant::now() })
    }

    async fn tell(&mut self, line: &str) {
        for (_, stdin) in &mut self.workers {
            let _ = stdin.write_all(format!("{line}\n").as_bytes()).await;
        }
    }

    /// Waits for every worker's `connected` report, printing progress; tells the workers to
    /// stop starting connects once too many failed or the step's time is up.
    async fn connect(&mut self, a: &Args) -> Connected {
        let limit = Duration::from_secs(60) + Duration::from_millis(a.clients);
        let deadline = self.started + limit;
        let mut progress: Vec<(u64, u64)> = vec![(0, 0); self.workers.len()];
        let mut reports: Vec<Option<Value>> = vec![None; self.workers.len()];
        let mut stopped = false;
        let mut next_print = Instant::now() + Duration::from_secs(5);
        // After the stop, the connects in flight still end within their timeout.
        let hard_deadline = deadline + a.connect_timeout * 2 + Duration::from_secs(5);
        while reports.iter().any(Option::is_none) && Instant::now() < hard_deadline {
            let wait = if stopped { hard_deadline } else { deadline };
            let line = tokio::time::timeout_at(wait.min(next_print), self.lines.recv()).await;
            match line {
                Ok(Some((w, value))) => {
                    let counts =
                        if value["progress"].is_object() { &value["progress"] } else { &value["connected"] };
                    if let (Some(c), Some(f)) = (counts["connected"].as_u64(), counts["failed"].as_u64()) {
                        progress[w] = (c, f);
                    }
                    if value["connected"].is_object() {
                        reports[w] = Some(value["connected"].clone());
                    }
                }
                Ok(None) => break,
                Err(_) => {}
            }
            let failed: u64 = progress.iter().map(|p| p.1).sum();
            if !stopped && (failed >= a.max_failures || Instant::now() >= deadline) {
                eprintln!(
                    "stopping the connects: {failed} failed, {:.0} s",
                    self.started.elapsed().as_secs_f64()
                );
                self.tell("stop").await;
                stopped = true;
            }
            if Instant::now() >= next_print {
                eprintln!(
                    "[{:>4.0} s] connected {} of {}, failed {failed}",
                    self.started.elapsed().as_secs_f64(),
                    progress.iter().map(|p| p.0).sum::<u64>(),
                    a.clients
                );
                next_print += Duration::from_secs(5);
            }
        }
        let reports: Vec<Value> = reports.into_iter().flatten().collect();
        let missing = self.workers.len() - reports.len();
        let mut failures = merge_counts(&reports, "failures");
        if missing > 0 {
            failures.insert(format!("{missing} worker(s) never reported"), 0);
        }
        Connected {
            connected: sum(&reports, "connected"),
            failed: sum(&reports, "failed"),
            failures,
            seconds: reports.iter().filter_map(|r| r["last_ok_s"].as_f64()).fold(0.0, f64::max),
            step_seconds: self.started.elapsed().as_secs_f64(),
        }
    }

    /// Sends `line` to every worker and collects the `key` object of each one's answer.
    async fn ask(&mut self, line: &str, key: &str, limit: Duration) -> Vec<Value> {
        self.tell(line).await;
        let deadline = Instant::now() + limit;
        let mut answers: Vec<Option<Value>> = vec![None; self.workers.len()];
        while answers.iter().any(Option::is_none) {
            match tokio::time::timeout_at(deadline, self.lines.recv()).await {
                Ok(Some((w, value))) if value[key].is_object() => answers[w] = Some(value[key].clone()),
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
        answers.into_iter().flatten().collect()
    }

    async fn exit(mut self) {
        self.tell("exit").await;
        for (mut child, stdin) in self.workers {
            drop(stdin);
            if timeout(Duration::from_secs(10), child.wait()).await.is_err() {
                let _ = child.kill().await;
            }
        }
    }
}

/// What one worker holds: its share of clients and their counters.
struct Shared {
    connected: AtomicU64,
    failed: AtomicU64,
    failures: Mutex<BTreeMap<String, u64>>,
    /// When the last successful connect ended, in ms since the worker started.
    last_ok_ms: AtomicU64,
    alive: AtomicU64,
    /// Clients whose connection ended before they were told to leave.
    lost: AtomicU64,
    reasons: Mutex<BTreeMap<String, u64>>,
    received: AtomicU64,
    first_ns: AtomicU64,
    last_ns: AtomicU64,
    clean: AtomicU64,
    unclean: AtomicU64,
}

impl Shared {
    fn new() -> Self {
        Shared {
            connected: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            failures: Mutex::new(BTreeMap::new()),
            last_ok_ms: AtomicU64::new(0),
            alive: AtomicU64::new(0),
            lost: AtomicU64::new(0),
            reasons: Mutex::new(BTreeMap::new()),
            received: AtomicU64::new(0),
            first_ns: AtomicU64::new(u64::MAX),
            last_ns: AtomicU64::new(0),
            clean: AtomicU64::new(0),
            unclean: AtomicU64::new(0),
        }
    }

    fn count(map: &Mutex<BTreeMap<String, u64>>, what: String) {
        *map.lock().unwrap_or_else(|e| e.into_inner()).entry(what).or_default() += 1;
    }

    fn counts(map: &Mutex<BTreeMap<String, u64>>) -> BTreeMap<String, u64> {
        map.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// A worker's command line.
struct WorkerArgs {
    addr: SocketAddr,
    first: u64,
    count: u64,
    sources: u64,
    concurrency: u64,
    connect_timeout: Duration,
}

fn parse_worker_args(args: &[String]) -> Result<WorkerArgs, String> {
    let mut w = WorkerArgs {
        addr: SocketAddr::from(([127, 0, 0, 1], 3000)),
        first: 0,
        count: 0,
        sources: 1,
        concurrency: 100,
        connect_timeout: Duration::from_secs(10),
    };
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--addr" => w.addr = value.parse().map_err(|_| "--addr takes IP:PORT")?,
            "--first" => w.first = number(value)?,
            "--count" => w.count = number::<u64>(value)?.min(MAX_CLIENTS),
            "--sources" => w.sources = number::<u64>(value)?.clamp(1, MAX_SOURCES),
            "--concurrency" => w.concurrency = number::<u64>(value)?.clamp(1, 10_000),
            "--connect-timeout-ms" => w.connect_timeout = Duration::from_millis(number(value)?),
            other => return Err(format!("unknown worker flag {other}")),
        }
    }
    Ok(w)
}

/// A worker: connects its share, then answers the coordinator's lines (`stop`, `bcast?`,
/// `status?`, `close`, `exit`) until `exit` or the end of its standard input.
async fn worker(args: &[String]) -> Result<(), String> {
    let w = Arc::new(parse_worker_args(args)?);
    let limit = raise_fd_limit();
    if limit < w.count + FD_RESERVE {
        eprintln!("scale worker: {} clients with {limit} file descriptors", w.count);
    }
    let shared = Arc::new(Shared::new());
    let stop = Arc::new(AtomicBool::new(false));
    let (leave, leaving) = watch::channel(false);
    let mut connecting = tokio::spawn(connect_share(w.clone(), shared.clone(), stop.clone(), leaving));
    let mut connect_done = false;
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    let print = |value: Value| println!("{value}");
    loop {
        tokio::select! {
            line = lines.next_line() => {
                let Ok(Some(line)) = line else { return Ok(()) };
                match line.trim() {
                    "stop" => stop.store(true, Ordering::Relaxed),
                    "bcast?" => print(json!({ "bcast": {
                        "received": shared.received.load(Ordering::Relaxed),
                        "alive": shared.alive.load(Ordering::Relaxed),
                        "first_ns": shared.first_ns.load(Ordering::Relaxed),
                        "last_ns": shared.last_ns.load(Ordering::Relaxed),
                    }})),
                    "status?" => print(json!({ "status": {
                        "alive": shared.alive.load(Ordering::Relaxed),
                        "lost": shared.lost.load(Ordering::Relaxed),
                        "reasons": Shared::counts(&shared.reasons),
                    }})),
                    "close" => {
                        stop.store(true, Ordering::Relaxed);
                        let _ = leave.send(true);
                        let deadline = Instant::now() + CLOSE_LIMIT + Duration::from_secs(5);
                        while shared.alive.load(Ordering::Relaxed) > 0 && Instant::now() < deadline {
                            sleep(Duration::from_millis(50)).await;
                        }
                        print(json!({ "closed": {
                            "clean": shared.clean.load(Ordering::Relaxed),
                            "unclean": shared.unclean.load(Ordering::Relaxed),
                            "still_open": shared.alive.load(Ordering::Relaxed),
                        }}));
                    }
                    "exit" => return Ok(()),
                    other => eprintln!("scale worker: unknown line {other:?}"),
                }
            }
            _ = ticker.tick(), if !connect_done => print(json!({ "progress": {
                "connected": shared.connected.load(Ordering::Relaxed),
                "failed": shared.failed.load(Ordering::Relaxed),
            }})),
            _ = &mut connecting, if !connect_done => {
                connect_done = true;
                print(json!({ "connected": {
                    "connected": shared.connected.load(Ordering::Relaxed),
                    "failed": shared.failed.load(Ordering::Relaxed),
                    "failures": Shared::counts(&shared.failures),
                    "last_ok_s": shared.last_ok_ms.load(Ordering::Relaxed) as f64 / 1000.0,
                }}));
            }
        }
    }
}

/// Connects the worker's share, `concurrency` at a time, each client then held by its own task.
async fn connect_share(
    w: Arc<WorkerArgs>,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    leaving: watch::Receiver<bool>,
) {
    let started = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let mut connectors = Vec::new();
    for _ in 0..w.concurrency.min(w.count) {
        let (w, shared, stop, next, leaving) =
            (w.clone(), shared.clone(), stop.clone(), next.clone(), leaving.clone());
        connectors.push(tokio::spawn(async move {
            let host = w.addr.to_string();
            while !stop.load(Ordering::Relaxed) {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= w.count {
                    return;
                }
                let source = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + ((w.first + i) % w.sources) as u8));
                match connect_one(w.addr, &host, source, w.connect_timeout).await {
                    Ok(ws) => {
                        shared.connected.fetch_add(1, Ordering::Relaxed);
                        shared.alive.fetch_add(1, Ordering::Relaxed);
                        shared.last_ok_ms.fetch_max(started.elapsed().as_millis() as u64, Ordering::Relaxed);
                        tokio::spawn(hold(ws, shared.clone(), leaving.clone()));
                    }
                    Err(e) => {
                        shared.failed.fetch_add(1, Ordering::Relaxed);
                        Shared::count(&shared.failures, e);
                    }
                }
            }
        }));
    }
    for connector in connectors {
        let _ = connector.await;
    }
}

/// One client: TCP from `source`, then the WebSocket and Socket.IO handshakes.
async fn connect_one(addr: SocketAddr, host: &str, source: IpAddr, limit: Duration) -> Result<Ws, String> {
    let stream = match timeout(limit, bench::connect_from(addr, source)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => return Err(format!("TCP connect: {e}")),
        Err(_) => return Err(format!("TCP connect: no answer within {} ms", limit.as_millis())),
    };
    match timeout(limit, Ws::connect_on(stream, host, Proto::SocketIo)).await {
        Ok(Ok(ws)) => Ok(ws),
        Ok(Err(e)) => Err(format!("handshake: {e}")),
        Err(_) => Err(format!("handshake: no answer within {} ms", limit.as_millis())),
    }
}

/// Holds one connected client: answers pings, notes the broadcast, leaves when told.
async fn hold(mut ws: Ws, shared: Arc<Shared>, mut leaving: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            msg = ws.recv() => match msg {
                Ok(Msg::Text(t)) if t.starts_with(b"42[\"bcast\"") => {
                    let at = now_ns();
                    shared.first_ns.fetch_min(at, Ordering::Relaxed);
                    shared.last_ns.fetch_max(at, Ordering::Relaxed);
                    shared.received.fetch_add(1, Ordering::Relaxed);
                }
                Ok(_) => {}
                Err(e) => {
                    shared.lost.fetch_add(1, Ordering::Relaxed);
                    Shared::count(&shared.reasons, e.to_string());
                    break;
                }
            },
            _ = leaving.changed() => {
                let clean = ws.send_text(b"41").await.is_ok() && ws.close(CLOSE_LIMIT).await;
                let counter = if clean { &shared.clean } else { &shared.unclean };
                counter.fetch_add(1, Ordering::Relaxed);
                break;
            }
        }
    }
    shared.alive.fetch_sub(1, Ordering::Relaxed);
}

/// The Markdown table of the peers' runs.
fn table(a: &Args, results: &[Value]) -> String {
    let rows: &[(&str, &str, f64)] = &[
        ("clients connected", "connected", 1.0),
        ("connect failures", "connect_failed", 1.0),
        ("time to connect (s, to the last success)", "connect_seconds", 1.0),
        ("connects/s", "connects_per_s", 1.0),
        ("server RSS before (MiB)", "rss_before", 1.0 / 1_048_576.0),
        ("server RSS with the clients, idle 2 s (MiB)", "rss_idle", 1.0 / 1_048_576.0),
        ("RSS per client (bytes)", "rss_per_client", 1.0),
        ("server fds with the clients", "fds_idle", 1.0),
        ("broadcast: clients reached", "bcast_received", 1.0),
        ("broadcast: time to first client (ms)", "bcast_first_ms", 1.0),
        ("broadcast: time to last client (ms)", "bcast_last_ms", 1.0),
        ("clients disconnected during the heartbeat step", "heartbeat_disconnected", 1.0),
        ("after all left: server RSS (MiB)", "rss_after", 1.0 / 1_048_576.0),
        ("server fds before / after all left", "fds", 1.0),
    ];
    let mut out = format!(
        "{} clients requested, heartbeat step {} s, settle {} s.\n\n| figure |",
        a.clients,
        a.heartbeat.as_secs(),
        a.settle.as_secs()
    );
    for r in results {
        out.push_str(&format!(" {} |", r["peer"].as_str().unwrap_or("?")));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(results.len()));
    for (label, field, scale) in rows {
        out.push_str(&format!("\n| {label} |"));
        for r in results {
            let cell = match (*field, r[*field].as_f64()) {
                ("fds", _) => format!("{} / {}", r["fds_before"], r["fds_after"]),
                (_, Some(v)) => {
                    let v = v * scale;
                    if v.abs() >= 100.0 || v.fract() == 0.0 {
                        format!("{v:.0}")
                    } else {
                        format!("{v:.1}")
                    }
                }
                (_, None) => "–".into(),
            };
            out.push_str(&format!(" {cell} |"));
        }
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn log_lines_lose_their_colours() {
        let line = "\u{1b}[2m2026-12-06T22:44:46Z\u{1b}[0m \u{1b}[33m WARN\u{1b}[0m out of file descriptors";
        assert_eq!(super::without_colours(line), "2026-12-06T22:44:46Z  WARN out of file descriptors");
        assert_eq!(super::without_colours("plain"), "plain");
    }
}
