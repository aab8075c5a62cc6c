//! Hostile-client probes against Socket.IO servers, with the server's memory, descriptors and a
//! healthy client watched (see `bench::attack` for what each probe does and measures).
//!
//! ```text
//! cargo run --release -p bench --bin attack -- --url http://127.0.0.1:3000 --pid SERVER_PID
//! cargo run --release -p bench --bin attack -- --peers ours,node        # side by side (the default)
//! ```
//!
//! Against `--url`, every probe runs against the one running server (`--pid` is its process);
//! `fd-exhaustion` needs a server started with a descriptor limit and is skipped. Side by side,
//! the tool builds and installs the peers as `compare` does, and every probe starts each peer as
//! a fresh process pinned to core 0, its output in `target/attack/PEER-PROBE.log`
//! (`RUST_LOG=warn`); `fd-exhaustion` starts it under `prlimit --nofile=256:256`. A peer that
//! crashed is reported as such and started afresh for the next probe.
//!
//! The report, one Markdown table of every probe's outcome and figures per server (PASS or FAIL
//! against the expected outcome for ours, or for the `--url` server), goes to standard output
//! and to `--out` (`target/attack-report.md`).
//!
//! Flags: `--probes a,b`, `--quick` (fewer connections, 5 s holds), `--slow-seconds N` (how long
//! the slowloris and slow-body probes hold), `--out PATH`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bench::attack::{self, Probe, Report, Scale, Target};
use bench::peers::{Launch, Peer, PeerProcess};

struct Options {
    url: Option<String>,
    pid: u32,
    peers: Vec<String>,
    probes: Vec<Probe>,
    quick: bool,
    scale: Scale,
    out: PathBuf,
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        url: None,
        pid: 0,
        peers: vec!["ours".into(), "node".into()],
        probes: Probe::ALL.to_vec(),
        quick: false,
        scale: Scale::full(),
        out: PathBuf::from("target/attack-report.md"),
    };
    let mut slow = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => o.url = Some(value()?),
            "--pid" => o.pid = value()?.parse().map_err(|_| "--pid takes a process id")?,
            "--peers" => o.peers = value()?.split(',').map(str::to_owned).collect(),
            "--probes" => {
                o.probes = value()?
                    .split(',')
                    .map(|name| Probe::named(name).ok_or_else(|| format!("unknown probe {name}")))
                    .collect::<Result<_, _>>()?
            }
            "--quick" => {
                o.quick = true;
                o.scale = Scale::quick();
            }
            "--slow-seconds" => {
                slow =
                    Some(value()?.parse::<u64>().map_err(|_| "--slow-seconds takes a number")?.clamp(1, 600))
            }
            "--out" => o.out = PathBuf::from(value()?),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if let Some(seconds) = slow {
        o.scale.slowloris_hold = Duration::from_secs(seconds);
        o.scale.slow_body_hold = Duration::from_secs(seconds);
    }
    if o.url.is_some() && o.pid == 0 {
        return Err("--url needs --pid (the server's process id)".into());
    }
    Ok(o)
}

fn main() {
    if let Err(e) = run() {
        eprintln!("attack: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let options = parse_args()?;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let started = Instant::now();
    let (columns, results) = match &options.url {
        Some(url) => {
            let addr = url.trim_start_matches("http://").trim_end_matches('/').to_owned();
            let target = Target { addr: addr.clone(), pid: options.pid, fd_limit: None, log: None };
            let mut results = Vec::new();
            for &probe in &options.probes {
                let report = runtime.block_on(attack::run(&target, probe, &options.scale));
                progress(started, probe, &addr, true, &report);
                results.push((probe, vec![report]));
            }
            (vec![(addr, true)], results)
        }
        None => {
            bench::peers::enter_workspace_root()?;
            let peers = bench::peers::select(Some(&options.peers));
            if peers.is_empty() || peers.iter().any(|p| p.proto != "socketio") {
                return Err("--peers takes Socket.IO peers: ours, socketioxide, node".into());
            }
            bench::peers::prepare(&peers)?;
            std::fs::create_dir_all("target/attack").map_err(|e| e.to_string())?;
            let results = side_by_side(&runtime, &options, &peers, started);
            (peers.iter().map(|p| (p.name.to_owned(), p.name == "ours")).collect(), results)
        }
    };
    let report = table(&options, &columns, &results, started.elapsed());
    println!("{report}");
    if let Some(dir) = options.out.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    std::fs::write(&options.out, &report)
        .map_err(|e| format!("cannot write {}: {e}", options.out.display()))?;
    eprintln!("report written to {}", options.out.display());
    Ok(())
}

/// Every probe against every peer, each a fresh process; the peers' order alternates.
fn side_by_side(
    runtime: &tokio::runtime::Runtime,
    options: &Options,
    peers: &[&Peer],
    started: Instant,
) -> Vec<(Probe, Vec<Report>)> {
    let mut port = 4000u16;
    let mut results = Vec::new();
    for (i, &probe) in options.probes.iter().enumerate() {
        let mut order: Vec<usize> = (0..peers.len()).collect();
        order.rotate_left(i % peers.len());
        let mut reports: Vec<Option<Report>> = vec![None; peers.len()];
        for index in order {
            let peer = peers[index];
            port = if port >= 4500 { 4000 } else { port + 1 };
            let log = PathBuf::from(format!("target/attack/{}-{}.log", peer.name, probe.name()));
            let launch = Launch {
                nofile: (probe == Probe::FdExhaustion).then_some(attack::FD_LIMIT),
                stderr: Some(log.clone()),
                ..Launch::default()
            };
            let report = match PeerProcess::start(peer, port, &launch) {
                Ok(mut process) => {
                    let target = Target {
                        addr: format!("127.0.0.1:{port}"),
                        pid: process.pid(),
                        fd_limit: launch.nofile,
                        log: Some(log.clone()),
                    };
                    let mut report = runtime.block_on(attack::run(&target, probe, &options.scale));
                    report.server = server_state(&mut process, &log);
                    report.alive &= process.exited().is_none();
                    process.stop();
                    report
                }
                Err(e) => not_started(probe, e),
            };
            progress(started, probe, peer.name, peer.name == "ours", &report);
            reports[index] = Some(report);
        }
        results.push((probe, reports.into_iter().flatten().collect()));
    }
    results
}

/// How the peer process is after a probe: alive or how it exited, and the warnings it logged.
fn server_state(process: &mut PeerProcess, log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let warnings = lines.iter().filter(|l| l.contains("WARN") || l.contains("ERROR")).count();
    let last =
        |lines: &[&str]| lines.last().map(|l| l.chars().take(160).collect::<String>()).unwrap_or_default();
    match process.exited() {
        Some(status) => format!("CRASHED ({status}); last output line: `{}`", last(&lines)),
        None if warnings == 0 => "alive".into(),
        None => format!("alive; warning lines in its output: {warnings}"),
    }
}

/// The report of a probe whose peer did not start.
fn not_started(probe: Probe, error: String) -> Report {
    Report {
        probe,
        outcome: attack::Outcome { summary: format!("the server did not start: {error}"), pass: Some(false) },
        rss: attack::Span::default(),
        fds: attack::Span::default(),
        canary_during: attack::RoundTrips::default(),
        canary_after: attack::RoundTrips::default(),
        alive: false,
        server: "not started".into(),
        took: Duration::ZERO,
    }
}

fn progress(started: Instant, probe: Probe, server: &str, verdict: bool, report: &Report) {
    let verdict = match report.verdict().filter(|_| verdict) {
        Some(true) => "PASS ",
        Some(false) => "FAIL ",
        None => "",
    };
    eprintln!(
        "[{:>4.0} s] {:<20} {:<12} {:>5.1} s  {verdict}{}",
        started.elapsed().as_secs_f64(),
        probe.name(),
        server,
        report.took.as_secs_f64(),
        report.outcome.summary
    );
}

fn shell(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// The Markdown report: a header line, one block of rows per probe, the legend.
fn table(
    options: &Options,
    columns: &[(String, bool)],
    results: &[(Probe, Vec<Report>)],
    took: Duration,
) -> String {
    let cell = |text: &str| text.replace('|', "\\|").replace('\n', " ");
    let mut out = format!(
        "Hostile-client probes, {} on Linux {} ({} cores), {} scale, {:.1} min. {}\n\n| probe | figure |",
        shell("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        shell("uname", &["-r"]),
        shell("nproc", &["--all"]),
        if options.scale.slowloris_connections == Scale::full().slowloris_connections {
            "full"
        } else {
            "quick"
        },
        took.as_secs_f64() / 60.0,
        match &options.url {
            Some(url) => format!("One server at {url} (pid {}).", options.pid),
            None => "Each probe against a fresh process of each server, pinned to core 0.".into(),
        }
    );
    for (name, _) in columns {
        out.push_str(&format!(" {name} |"));
    }
    out.push_str("\n|---|---|");
    for _ in columns {
        out.push_str("---|");
    }
    out.push('\n');
    for (probe, reports) in results {
        let rows: Vec<Vec<(&str, String)>> =
            reports.iter().zip(columns).map(|(report, (_, verdict))| report.rows(*verdict)).collect();
        let Some(first) = rows.first() else { continue };
        for (r, (figure, _)) in first.iter().enumerate() {
            let label = if r == 0 {
                format!("**{}**: {}", probe.name(), probe.describe(&options.scale))
            } else {
                String::new()
            };
            out.push_str(&format!("| {} | {figure} |", cell(&label)));
            for row in &rows {
                out.push_str(&format!(" {} |", cell(&row[r].1)));
            }
            out.push('\n');
        }
    }
    out.push_str(
        "\nRSS and fds: the server process's resident set and open descriptors before the probe, their peak \
         while it ran (sampled every 50 ms), and after its connections closed and a settle time. Canary: failed \
         `echo` round trips of a healthy WebSocket client during the probe and after it (with three of a client \
         opened afresh). PASS/FAIL: whether the expected bounded outcome was met with the canary unharmed.\n",
    );
    out
}
