//! The churn soak: for `--seconds`, Socket.IO clients keep connecting over long-polling, over
//! WebSocket and over long-polling upgraded to WebSocket, do a few acknowledged `echo` round
//! trips and leave, half of them by TCP reset at a random point (mid-handshake, mid-poll,
//! mid-upgrade, once connected); see [`bench::churn`]. A canary client stays connected all
//! along doing `echo` round trips. Once the load stops and the server's timeouts have passed,
//! it checks that the server gave everything back.
//!
//! ```text
//! cargo run --release -p bench --bin churn -- --peer ours                 # 10 minutes
//! cargo run --release -p bench --bin churn -- --peer node --seconds 60
//! cargo run --release -p bench --bin churn -- --addr 127.0.0.1:3000 --pid PID
//! ```
//!
//! `--peer` builds and starts a peer of `compare` (`ours`, `socketioxide`, `node`) pinned to
//! core 0, its output in `target/churn-PEER.log`; `--addr` and `--pid` measure a
//! running server instead. Other flags: `--concurrency` (200 sessions at a time),
//! `--reclaim-seconds` (45: the server's ping interval plus ping timeout, after which an
//! abandoned session must be gone), `--seed`.
//!
//! The server's counts come from the optional `stats` event of the event contract
//! (`{"clients": <Engine.IO sessions>, "sockets": <sockets of "/">}`), asked by the canary.
//! The checks, each PASS or FAIL (n/a when the server does not answer `stats`):
//!
//! 1. the server's Engine.IO sessions and sockets of `/` are back to 1 (the canary's);
//! 2. its file descriptors are back to the baseline measured with the canary alone;
//! 3. its RSS is at most 10% above its plateau (the median of the second half of the load);
//! 4. the canary had no failed round trip;
//! 5. no session failed where its plan did not call for it.
//!
//! One JSON line goes to standard output, the progress and a summary to standard error.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bench::churn::{Options, Progress, Report};
use bench::peers::{Launch, PeerProcess};
use bench::{Msg, Proto, Samples, Ws};
use serde_json::{json, Value};
use tokio::time::{sleep, timeout, Instant};

/// How long the canary waits for an answer.
const CANARY_LIMIT: Duration = Duration::from_secs(5);
/// Time between two canary round trips.
const CANARY_PAUSE: Duration = Duration::from_millis(100);
/// Time between two samples of the server's memory and descriptors.
const SAMPLE_EVERY: Duration = Duration::from_secs(5);
/// Time between two progress lines during the load.
const PRINT_EVERY: Duration = Duration::from_secs(30);
/// Added to `--reclaim-seconds` before the checks.
const RECLAIM_MARGIN: Duration = Duration::from_secs(10);

struct Args {
    peer: Option<String>,
    addr: String,
    pid: u32,
    port: u16,
    seconds: u64,
    concurrency: usize,
    reclaim: Duration,
    seed: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        peer: None,
        addr: String::new(),
        pid: 0,
        port: 3600,
        seconds: 600,
        concurrency: 200,
        reclaim: Duration::from_secs(45),
        seed: 1,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--peer" => a.peer = Some(value()?),
            "--addr" => a.addr = value()?,
            "--pid" => a.pid = number(&value()?)?,
            "--port" => a.port = number(&value()?)?,
            "--seconds" => a.seconds = number::<u64>(&value()?)?.clamp(1, 86_400),
            "--concurrency" => a.concurrency = number::<usize>(&value()?)?.clamp(1, 5_000),
            "--reclaim-seconds" => a.reclaim = Duration::from_secs(number::<u64>(&value()?)?.min(3_600)),
            "--seed" => a.seed = number(&value()?)?,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    match (&a.peer, a.addr.is_empty(), a.pid) {
        (Some(_), true, 0) => Ok(a),
        (None, false, pid) if pid != 0 => Ok(a),
        _ => Err("give either --peer NAME, or --addr HOST:PORT and --pid PID".into()),
    }
}

fn number<T: std::str::FromStr>(text: &str) -> Result<T, String> {
    text.parse().map_err(|_| format!("{text:?} is not a number"))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let result = match parse_args() {
        Ok(mut args) => run(&mut args).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(value) => println!("{value}"),
        Err(e) => {
            eprintln!("churn: {e}");
            println!("{}", json!({ "error": e }));
            std::process::exit(1);
        }
    }
}

async fn run(a: &mut Args) -> Result<Value, String> {
    let mut server = match &a.peer {
        Some(name) => {
            bench::peers::enter_workspace_root()?;
            let peer = *bench::peers::select(Some(std::slice::from_ref(name)))
                .first()
                .filter(|p| p.proto == "socketio")
                .ok_or_else(|| format!("{name} is not a Socket.IO peer"))?;
            bench::peers::prepare(&[peer])?;
            let log = std::path::PathBuf::from(format!("target/churn-{name}.log"));
            let process =
                PeerProcess::start(peer, a.port, &Launch { stderr: Some(log), ..Launch::default() })?;
            a.addr = format!("127.0.0.1:{}", a.port);
            a.pid = process.pid();
            Some(process)
        }
        None => None,
    };
    let pid = a.pid;
    let server_alive = |server: &mut Option<PeerProcess>| match server.as_mut().and_then(|s| s.exited()) {
        Some(status) => Err(format!("the server exited ({status})")),
        None => Ok(()),
    };

    let mut canary = Canary::new(&a.addr);
    canary.echo().await;
    sleep(Duration::from_secs(1)).await;
    let baseline = Sample::take(pid, 0.0)?;
    let stats_before = canary.stats().await;
    eprintln!(
        "baseline with the canary: rss {:.1} MiB, {} fds, stats {}",
        mib(baseline.rss),
        baseline.fds,
        show_stats(stats_before)
    );

    // The load, with the canary and the samples alongside.
    let options = Options {
        duration: Duration::from_secs(a.seconds),
        sessions: u64::MAX,
        concurrency: a.concurrency,
        seed: a.seed,
    };
    let progress = Arc::new(Progress::default());
    // The load runs on a thread of its own, so that the canary's round trips do not wait
    // behind the load's sessions in this thread.
    let load = {
        let (addr, progress) = (a.addr.clone(), progress.clone());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot build the load's runtime: {e}"))?;
        std::thread::spawn(move || runtime.block_on(bench::churn::run(&addr, &options, progress)))
    };
    let started = Instant::now();
    let mut samples = vec![baseline];
    let (mut next_sample, mut next_print) = (started + SAMPLE_EVERY, started + PRINT_EVERY);
    let give_up = started + Duration::from_secs(a.seconds) + Duration::from_secs(120);
    while !load.is_finished() && Instant::now() < give_up {
        server_alive(&mut server)?;
        canary.echo().await;
        sleep(CANARY_PAUSE).await;
        let now = Instant::now();
        if now >= next_sample {
            samples.push(Sample::take(pid, (now - started).as_secs_f64())?);
            next_sample += SAMPLE_EVERY;
        }
        if now >= next_print {
            let last = samples.last().copied().unwrap_or(baseline);
            let sessions = progress.sessions.load(Ordering::Relaxed);
            eprintln!(
                "[{:>4.0} s] sessions {sessions} ({:.0}/s), unexpected failures {} | server rss {:.1} MiB, {} fds | canary {} ok, {} failed",
                last.at,
                sessions as f64 / last.at.max(1.0),
                progress.errors.load(Ordering::Relaxed),
                mib(last.rss),
                last.fds,
                canary.round_trips,
                canary.failures
            );
            next_print += PRINT_EVERY;
        }
    }
    if !load.is_finished() {
        return Err("the load did not end within 120 s of its duration".into());
    }
    let report: Report = load.join().map_err(|_| "the load's thread panicked")?;
    let load_seconds = started.elapsed().as_secs_f64();
    let load_samples: Vec<Sample> = samples.iter().copied().filter(|s| s.at > 0.0).collect();
    eprintln!(
        "load over after {load_seconds:.0} s: {} sessions, {} round trips, {} unexpected failures",
        report.sessions,
        report.round_trips,
        report.error_count()
    );

    // The server's timeouts: abandoned sessions must be gone after them.
    let wait = a.reclaim + RECLAIM_MARGIN;
    let reclaim_started = Instant::now();
    let mut stats_after = None;
    while reclaim_started.elapsed() < wait {
        server_alive(&mut server)?;
        canary.echo().await;
        sleep(SAMPLE_EVERY.min(wait.saturating_sub(reclaim_started.elapsed()))).await;
        stats_after = canary.stats().await;
        let s = Sample::take(pid, started.elapsed().as_secs_f64())?;
        eprintln!(
            "[reclaim {:>3.0} s] stats {} | server rss {:.1} MiB, {} fds",
            reclaim_started.elapsed().as_secs_f64(),
            show_stats(stats_after),
            mib(s.rss),
            s.fds
        );
        samples.push(s);
    }
    let after = samples.last().copied().unwrap_or(baseline);

    let rss_plateau = median(load_samples.iter().skip(load_samples.len() / 2).map(|s| s.rss));
    let rss_peak = load_samples.iter().map(|s| s.rss).max().unwrap_or(0);
    let fds_peak = load_samples.iter().map(|s| s.fds).max().unwrap_or(0);
    let verdict = |ok: bool| if ok { "PASS" } else { "FAIL" };
    let checks = json!({
        "sessions back to the canary's": stats_after.map_or("n/a", |(c, s)| verdict(c == 1 && s == 1)),
        "descriptors back to the baseline": verdict(after.fds <= baseline.fds),
        "rss within 10% of the plateau": verdict(after.rss as f64 <= rss_plateau as f64 * 1.1),
        "canary never failed": verdict(canary.failures == 0),
        "no unexpected session failure": verdict(report.error_count() == 0),
    });
    let (p50, p99) = (canary.latency.percentile(50.0), canary.latency.percentile(99.0));
    let result = json!({
        "peer": a.peer,
        "seconds": load_seconds,
        "concurrency": a.concurrency,
        "sessions_per_s": report.sessions as f64 / load_seconds,
        "load": report,
        "canary": {
            "round_trips": canary.round_trips,
            "failures": canary.failures,
            "p50_us": p50,
            "p99_us": p99,
            "max_us": canary.latency.percentile(100.0),
        },
        "server": {
            "rss_baseline": baseline.rss,
            "fds_baseline": baseline.fds,
            "rss_plateau": rss_plateau,
            "rss_peak": rss_peak,
            "fds_peak": fds_peak,
            "rss_after": after.rss,
            "fds_after": after.fds,
            "stats_before": stats_before.map(|(c, s)| json!({ "clients": c, "sockets": s })),
            "stats_after": stats_after.map(|(c, s)| json!({ "clients": c, "sockets": s })),
            "reclaim_wait_seconds": wait.as_secs(),
        },
        "checks": checks,
    });
    summary(&result, &report);
    if let Some(mut process) = server {
        process.stop();
    }
    Ok(result)
}

/// The server's memory and descriptors at `at` seconds into the load.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at: f64,
    rss: u64,
    fds: usize,
}

impl Sample {
    fn take(pid: u32, at: f64) -> Result<Self, String> {
        let read = |e: std::io::Error| format!("cannot read /proc/{pid}: {e}");
        Ok(Sample { at, rss: bench::rss_bytes(pid).map_err(read)?, fds: bench::open_fds(pid).map_err(read)? })
    }
}

fn median(values: impl Iterator<Item = u64>) -> u64 {
    let mut v: Vec<u64> = values.collect();
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or(0)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / 1_048_576.0
}

fn show_stats(stats: Option<(u64, u64)>) -> String {
    match stats {
        Some((clients, sockets)) => format!("{clients} Engine.IO sessions, {sockets} sockets of /"),
        None => "not answered".into(),
    }
}

fn summary(result: &Value, report: &Report) {
    let server = &result["server"];
    eprintln!("\nchurn against {} for {:.0} s:", result["peer"], result["seconds"].as_f64().unwrap_or(0.0));
    eprintln!(
        "  {} sessions ({:.0}/s), {} echo round trips; by transport {:?}; ends {:?}",
        report.sessions,
        result["sessions_per_s"].as_f64().unwrap_or(0.0),
        report.round_trips,
        report.transports,
        report.ends
    );
    for (error, count) in &report.errors {
        eprintln!("  unexpected failure ×{count}: {error}");
    }
    eprintln!("  canary: {}", result["canary"]);
    eprintln!(
        "  server rss: baseline {:.1} MiB, plateau {:.1}, peak {:.1}, after {:.1}; fds: baseline {}, peak {}, after {}",
        mib(server["rss_baseline"].as_u64().unwrap_or(0)),
        mib(server["rss_plateau"].as_u64().unwrap_or(0)),
        mib(server["rss_peak"].as_u64().unwrap_or(0)),
        mib(server["rss_after"].as_u64().unwrap_or(0)),
        server["fds_baseline"],
        server["fds_peak"],
        server["fds_after"]
    );
    if let Some(checks) = result["checks"].as_object() {
        for (name, verdict) in checks {
            eprintln!("  {}: {name}", verdict.as_str().unwrap_or("?"));
        }
    }
}

/// The client that stays connected through the whole soak.
struct Canary {
    addr: String,
    ws: Option<Ws>,
    next_id: u64,
    round_trips: u64,
    failures: u64,
    latency: Samples,
}

impl Canary {
    fn new(addr: &str) -> Self {
        Canary {
            addr: addr.to_owned(),
            ws: None,
            next_id: 0,
            round_trips: 0,
            failures: 0,
            latency: Samples::default(),
        }
    }

    /// One `echo` round trip; a failure is counted and the canary reconnects next time.
    async fn echo(&mut self) {
        let started = Instant::now();
        let body = format!(r#"{{"canary":{}}}"#, self.next_id);
        match self.ask("echo", &body).await {
            Some(_) => {
                self.round_trips += 1;
                self.latency.push(started.elapsed());
            }
            None => {
                self.failures += 1;
                self.ws = None;
            }
        }
    }

    /// The server's `(Engine.IO sessions, sockets of /)`, if it answers `stats`.
    async fn stats(&mut self) -> Option<(u64, u64)> {
        let answer = self.ask("stats", "").await?;
        Some((answer["clients"].as_u64()?, answer["sockets"].as_u64()?))
    }

    /// Emits `event` (with `argument` unless empty) with an ack id; the ack's first argument.
    async fn ask(&mut self, event: &str, argument: &str) -> Option<Value> {
        if self.ws.is_none() {
            self.ws = timeout(CANARY_LIMIT, Ws::connect(&self.addr, Proto::SocketIo)).await.ok()?.ok();
        }
        let ws = self.ws.as_mut()?;
        self.next_id += 1;
        let id = self.next_id;
        let request = match argument {
            "" => format!(r#"42{id}["{event}"]"#),
            argument => format!(r#"42{id}["{event}",{argument}]"#),
        };
        let answer = format!("43{id}");
        let exchange = async {
            ws.send_text(request.as_bytes()).await?;
            loop {
                if let Msg::Text(t) = ws.recv().await? {
                    if let Some(args) = t.strip_prefix(answer.as_bytes()).filter(|a| a.first() == Some(&b'['))
                    {
                        let args: Value = serde_json::from_slice(args).map_err(std::io::Error::other)?;
                        return Ok::<_, std::io::Error>(args[0].clone());
                    }
                }
            }
        };
        timeout(CANARY_LIMIT, exchange).await.ok()?.ok()
    }
}
