//! The server benchmark, side by side: every peer, every scenario, in one run on one machine.
//!
//! ```text
//! cargo run --release -p bench --bin compare              # the full run (about 20 minutes)
//! cargo run --release -p bench --bin compare -- --quick   # one repetition of smaller scenarios
//! ```
//!
//! It builds our server (`socketio-server/examples/echo.rs`, release), installs the Node.js
//! peers' pinned npm packages (`bench/node`), then for each repetition and each scenario starts
//! every peer as a fresh process pinned to core 0 (`taskset -c 0`) and runs `loadgen` pinned to
//! core 1 against it; the peers' order rotates from one repetition to the next. The report, a
//! Markdown table of medians with their spread and the ratios against Node.js and against the
//! bare WebSocket floor, goes to standard output and to `--out` (`target/bench-report.md`).
//!
//! Flags: `--quick`, `--reps N`, `--out PATH`, `--peers a,b`, `--scenarios a,b`, `--with-prev`,
//! `--prev-commit REV`, `--instructions`.
//!
//! `--instructions` adds a table of instructions per operation (connect, echo round trip,
//! broadcast delivery) for `ours` and `prev`, counted by callgrind in the server process
//! (`bench::instructions`): repeatable to a fraction of a percent whatever else the machine
//! does, where CPU time is not.
//!
//! `prev` is our echo example built from an earlier commit of this repository (`--prev-commit`,
//! by default the last one before the refactor of the server's internals), into
//! `target/prev-SHORT/`: a peer only when `--peers` lists it, `--with-prev` or `--prev-commit`
//! is given. The report then has a column `ours / prev` and a table of the main figures against
//! it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use bench::peers::{Launch, Peer, PREV, PREV_DEFAULT_COMMIT};
use serde_json::Value;

/// The bare WebSocket floor the targets are judged against: the faster tokio-tungstenite set-up.
const FLOOR: &str = "tungstenite-4k";

/// A loadgen run and the figures it reports.
struct Scenario {
    name: &'static str,
    /// Arguments for the full run and for `--quick`.
    full: &'static [&'static str],
    quick: &'static [&'static str],
    /// Whether the plain WebSocket peers can run it.
    raw: bool,
    /// Whether only the servers with a fast path for it run it (ours and the plain WebSocket
    /// peers): the others would answer the same event with their ordinary handler.
    fast_path: bool,
    /// (JSON field, row label, lower is better).
    figures: &'static [(&'static str, &'static str, bool)],
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "connect",
        full: &["--scenario", "connect", "--clients", "5000", "--concurrency", "32"],
        quick: &["--scenario", "connect", "--clients", "1000", "--concurrency", "32"],
        raw: true,
        fast_path: false,
        figures: &[
            ("cpu_us_per_op", "server CPU per connect (µs)", true),
            ("per_second", "connects/s", false),
            ("p50_us", "connect latency p50 (µs)", true),
            ("p99_us", "connect latency p99 (µs)", true),
        ],
    },
    Scenario {
        name: "echo-1",
        full: &["--scenario", "echo", "--clients", "1", "--seconds", "3"],
        quick: &["--scenario", "echo", "--clients", "1", "--seconds", "1"],
        raw: true,
        fast_path: false,
        figures: &[
            ("cpu_us_per_op", "server CPU per round trip (µs)", true),
            ("p50_us", "latency p50 (µs)", true),
            ("p99_us", "latency p99 (µs)", true),
        ],
    },
    Scenario {
        name: "echo-100",
        full: &["--scenario", "echo", "--clients", "100", "--seconds", "3"],
        quick: &["--scenario", "echo", "--clients", "100", "--seconds", "1"],
        raw: true,
        fast_path: false,
        figures: &[
            ("cpu_us_per_op", "server CPU per round trip (µs)", true),
            ("per_second", "round trips/s", false),
            ("p50_us", "latency p50 (µs)", true),
            ("p99_us", "latency p99 (µs)", true),
        ],
    },
    Scenario {
        name: "echo-raw-100",
        full: &["--scenario", "echo-raw", "--clients", "100", "--seconds", "3"],
        quick: &["--scenario", "echo-raw", "--clients", "100", "--seconds", "1"],
        raw: true,
        fast_path: true,
        figures: &[
            ("cpu_us_per_op", "server CPU per round trip (µs)", true),
            ("per_second", "round trips/s", false),
            ("p99_us", "latency p99 (µs)", true),
        ],
    },
    Scenario {
        name: "binary-64k",
        full: &["--scenario", "binary", "--clients", "10", "--seconds", "3", "--size", "65536"],
        quick: &["--scenario", "binary", "--clients", "10", "--seconds", "1", "--size", "65536"],
        raw: true,
        fast_path: false,
        figures: &[
            ("cpu_us_per_op", "server CPU per round trip (µs)", true),
            ("mib_per_s", "MiB/s each way", false),
        ],
    },
    Scenario {
        name: "broadcast-1000",
        full: &["--scenario", "broadcast", "--clients", "1000", "--rounds", "50"],
        quick: &["--scenario", "broadcast", "--clients", "1000", "--rounds", "10"],
        raw: true,
        fast_path: false,
        figures: &[
            ("cpu_us_per_op", "server CPU per delivery (µs)", true),
            ("first_ms", "time to first client (ms)", true),
            ("last_ms", "time to last client (ms)", true),
        ],
    },
    Scenario {
        name: "broadcast-10000",
        full: &["--scenario", "broadcast", "--clients", "10000", "--rounds", "10", "--settle-ms", "2000"],
        quick: &["--scenario", "broadcast", "--clients", "2000", "--rounds", "5", "--settle-ms", "1000"],
        raw: true,
        fast_path: false,
        figures: &[
            ("cpu_us_per_op", "server CPU per delivery (µs)", true),
            ("first_ms", "time to first client (ms)", true),
            ("last_ms", "time to last client (ms)", true),
            ("rss_per_client", "idle RSS per WebSocket client (bytes)", true),
        ],
    },
    Scenario {
        name: "polling-50",
        full: &["--scenario", "polling", "--clients", "50", "--seconds", "3"],
        quick: &["--scenario", "polling", "--clients", "50", "--seconds", "1"],
        raw: false,
        fast_path: false,
        figures: &[
            ("cpu_us_per_op", "server CPU per round trip (µs)", true),
            ("per_second", "round trips/s", false),
            ("p50_us", "latency p50 (µs)", true),
        ],
    },
];

struct Options {
    quick: bool,
    reps: usize,
    out: PathBuf,
    peers: Option<Vec<String>>,
    scenarios: Option<Vec<String>>,
    /// Whether `prev` runs (`--with-prev`, `--prev-commit`, or `prev` in `--peers`).
    with_prev: bool,
    /// The commit `prev` is built from.
    prev_commit: String,
    /// Whether to count instructions per operation under callgrind.
    instructions: bool,
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        quick: false,
        reps: 5,
        out: PathBuf::from("target/bench-report.md"),
        peers: None,
        scenarios: None,
        with_prev: false,
        prev_commit: PREV_DEFAULT_COMMIT.to_owned(),
        instructions: false,
    };
    let mut reps = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--quick" => o.quick = true,
            "--reps" => {
                reps = Some(value()?.parse::<usize>().map_err(|_| "--reps takes a number")?.clamp(1, 20))
            }
            "--out" => o.out = PathBuf::from(value()?),
            "--peers" => o.peers = Some(value()?.split(',').map(str::to_owned).collect()),
            "--scenarios" => o.scenarios = Some(value()?.split(',').map(str::to_owned).collect()),
            "--with-prev" => o.with_prev = true,
            "--instructions" => o.instructions = true,
            "--prev-commit" => {
                o.prev_commit = value()?;
                o.with_prev = true;
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    o.reps = reps.unwrap_or(if o.quick { 1 } else { 5 });
    o.with_prev |= o.peers.as_ref().is_some_and(|l| l.iter().any(|n| n == PREV));
    Ok(o)
}

fn main() {
    if let Err(e) = run() {
        eprintln!("compare: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let options = parse_args()?;
    bench::peers::enter_workspace_root()?;
    let mut peers = bench::peers::select(options.peers.as_deref());
    bench::peers::prepare(&peers)?;
    // The abbreviated hash of the earlier commit, whose column comes right after ours.
    let mut prev = None;
    if options.with_prev {
        let (peer, short) = bench::peers::prepare_prev(&options.prev_commit)?;
        let at = peers.iter().position(|p| p.name == "ours").map_or(0, |i| i + 1);
        peers.insert(at, peer);
        prev = Some(short);
    }
    let scenarios: Vec<&Scenario> = SCENARIOS
        .iter()
        .filter(|s| options.scenarios.as_ref().is_none_or(|l| l.iter().any(|n| n == s.name)))
        .collect();

    // (scenario, peer, figure) → values over the repetitions.
    let mut results: BTreeMap<(&str, &str, &str), Vec<f64>> = BTreeMap::new();
    let started = Instant::now();
    let mut port = 3400u16;
    for rep in 0..options.reps {
        for scenario in &scenarios {
            let mut order: Vec<&&Peer> = peers
                .iter()
                .filter(|p| scenario.raw || p.proto != "raw")
                .filter(|p| !scenario.fast_path || p.proto == "raw" || p.name == "ours")
                .collect();
            let len = order.len();
            order.rotate_left(rep % len.max(1));
            for peer in order {
                port = if port >= 3900 { 3400 } else { port + 1 };
                let args = if options.quick { scenario.quick } else { scenario.full };
                eprint!(
                    "[{:>4.0} s] rep {}/{} {:<16} {:<15} ",
                    started.elapsed().as_secs_f64(),
                    rep + 1,
                    options.reps,
                    scenario.name,
                    peer.name
                );
                match run_one(peer, args, port) {
                    Ok(json) => {
                        let mut shown = Vec::new();
                        for (field, _, _) in scenario.figures {
                            if let Some(v) = json[*field].as_f64() {
                                results.entry((scenario.name, peer.name, field)).or_default().push(v);
                                shown.push(format!("{field}={v:.1}"));
                            }
                        }
                        eprintln!("{}", shown.join(" "));
                    }
                    Err(e) => eprintln!("FAILED: {e}"),
                }
            }
        }
    }
    let counted = if options.instructions { count_instructions(&peers)? } else { BTreeMap::new() };
    let mut report = report(&options, &peers, prev.as_deref(), &scenarios, &results, started.elapsed());
    report.push_str(&instructions_table(&peers, &counted));
    println!("{report}");
    if let Some(dir) = options.out.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    std::fs::write(&options.out, &report)
        .map_err(|e| format!("cannot write {}: {e}", options.out.display()))?;
    eprintln!("report written to {}", options.out.display());
    Ok(())
}

/// Instructions per operation of each workload for `ours` and `prev` (the others are not
/// counted: a JIT or another runtime under callgrind says little): (workload, peer) → count.
fn count_instructions(peers: &[&Peer]) -> Result<BTreeMap<(&'static str, &'static str), f64>, String> {
    use bench::instructions;
    if !instructions::available() {
        return Err("--instructions needs valgrind (apt-get install valgrind)".into());
    }
    let dir = instructions::out_dir();
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut counted = BTreeMap::new();
    let mut port = 3950u16;
    for workload in instructions::WORKLOADS {
        for peer in peers.iter().filter(|p| p.name == "ours" || p.name == PREV) {
            port += 2;
            eprint!("[callgrind] {:<16} {:<15} ", workload.name, peer.name);
            match instructions::per_op(peer, workload, port, &dir) {
                Ok(n) => {
                    eprintln!("{n:.0} instructions per operation");
                    counted.insert((workload.name, peer.name), n);
                }
                Err(e) => eprintln!("FAILED: {e}"),
            }
        }
    }
    Ok(counted)
}

fn instructions_table(peers: &[&Peer], counted: &BTreeMap<(&str, &str), f64>) -> String {
    if counted.is_empty() {
        return String::new();
    }
    let names: Vec<&str> = peers.iter().map(|p| p.name).filter(|n| *n == "ours" || *n == PREV).collect();
    let mut out = String::from(
        "\n### Instructions per operation (callgrind, server process)\n\nThe difference between a small and a \
         large run of one workload, divided by the difference in operations.\n\n| figure |",
    );
    for name in &names {
        out.push_str(&format!(" {name} |"));
    }
    let ratio = names.contains(&PREV);
    out.push_str(if ratio { " ours / prev |\n|---|" } else { "\n|---|" });
    out.push_str(&"---|".repeat(names.len() + usize::from(ratio)));
    out.push('\n');
    for workload in bench::instructions::WORKLOADS {
        out.push_str(&format!("| {} |", workload.label));
        for name in &names {
            match counted.get(&(workload.name, name)) {
                Some(n) => out.push_str(&format!(" {n:.0} |")),
                None => out.push_str(" – |"),
            }
        }
        if ratio {
            match (counted.get(&(workload.name, "ours")), counted.get(&(workload.name, PREV))) {
                (Some(a), Some(b)) => out.push_str(&format!(" {:.3}× |", a / b)),
                _ => out.push_str(" – |"),
            }
        }
        out.push('\n');
    }
    out
}

/// Starts `peer` on `port` pinned to core 0, runs loadgen pinned to core 1, stops the peer.
fn run_one(peer: &Peer, args: &[&str], port: u16) -> Result<Value, String> {
    bench::peers::run_loadgen(peer, port, &Launch::default(), args)
}

/// Median, minimum and maximum.
fn stats(values: &[f64]) -> Option<(f64, f64, f64)> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let median = if v.len() % 2 == 1 { v[v.len() / 2] } else { (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0 };
    Some((median, v[0], v[v.len() - 1]))
}

fn fmt(x: f64) -> String {
    match x.abs() {
        a if a >= 1000.0 => format!("{:.0}", x),
        a if a >= 100.0 => format!("{x:.0}"),
        a if a >= 10.0 => format!("{x:.1}"),
        _ => format!("{x:.2}"),
    }
}

fn shell(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

fn report(
    options: &Options,
    peers: &[&Peer],
    prev: Option<&str>,
    scenarios: &[&Scenario],
    results: &BTreeMap<(&str, &str, &str), Vec<f64>>,
    took: Duration,
) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find_map(|l| {
                l.strip_prefix("model name").map(|r| r.trim_start_matches([' ', '\t', ':']).to_owned())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let mut out = String::new();
    out.push_str(&format!(
        "Measured {} on {} ({} cores, Linux {}), {} repetition(s){}, {:.0} min. Each peer a fresh process pinned to core 0, \
         the load generator on core 1. Cells: median (min–max); server CPU from `/proc/PID/task/*/schedstat`.\n\n",
        shell("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        cpu,
        shell("nproc", &["--all"]),
        shell("uname", &["-r"]),
        options.reps,
        if options.quick { ", quick mode" } else { "" },
        took.as_secs_f64() / 60.0
    ));
    if let Some(short) = prev {
        out.push_str(&format!(
            "`{PREV}`: our echo example built from commit {short} (`target/prev-{short}/`), run as `ours` is.\n\n"
        ));
    }
    // The columns of ratios: ours against each of these.
    let mut against = vec!["node", FLOOR];
    if prev.is_some() {
        against.push(PREV);
    }
    out.push_str("| scenario | figure |");
    for peer in peers {
        out.push_str(&format!(" {} |", peer.name));
    }
    for other in &against {
        out.push_str(&format!(" ours / {} |", if *other == FLOOR { "floor" } else { other }));
    }
    out.push_str("\n|---|---|");
    out.push_str(&"---|".repeat(peers.len() + against.len()));
    out.push('\n');
    for scenario in scenarios {
        for (field, label, _) in scenario.figures {
            out.push_str(&format!("| {} | {label} |", scenario.name));
            for peer in peers {
                match results.get(&(scenario.name, peer.name, field)).and_then(|v| stats(v)) {
                    Some((median, min, max)) if min != max => {
                        out.push_str(&format!(" {} ({}–{}) |", fmt(median), fmt(min), fmt(max)))
                    }
                    Some((median, _, _)) => out.push_str(&format!(" {} |", fmt(median))),
                    None => out.push_str(" – |"),
                }
            }
            let median =
                |peer: &str| results.get(&(scenario.name, peer, field)).and_then(|v| stats(v)).map(|s| s.0);
            for other in &against {
                match (median("ours"), median(other)) {
                    (Some(a), Some(b)) if b != 0.0 => out.push_str(&format!(" {:.2}× |", a / b)),
                    _ => out.push_str(" – |"),
                }
            }
            out.push('\n');
        }
    }
    out.push_str(&targets(results));
    if let Some(short) = prev {
        out.push_str(&versus_prev(short, results));
    }
    out
}

/// The main figures of ours against `prev`, the same example built from an earlier commit.
fn versus_prev(short: &str, results: &BTreeMap<(&str, &str, &str), Vec<f64>>) -> String {
    let median = |scenario: &str, peer: &str, field: &str| {
        results.get(&(scenario, peer, field)).and_then(|v| stats(v)).map(|s| s.0)
    };
    let rows = [
        ("connect", "cpu_us_per_op", "server CPU per connect (µs)"),
        ("echo-100", "cpu_us_per_op", "server CPU per echo round trip, 100 clients (µs)"),
        ("broadcast-10000", "cpu_us_per_op", "server CPU per broadcast delivery, broadcast-10000 (µs)"),
        ("broadcast-10000", "rss_per_client", "idle RSS per WebSocket client (bytes)"),
    ];
    let mut out = format!(
        "\n### vs previous commit ({short})\n\n| figure | ours | {PREV} | ours / {PREV} |\n|---|---|---|---|\n"
    );
    for (scenario, field, label) in rows {
        let cell = |v: Option<f64>| v.map_or_else(|| "–".to_owned(), fmt);
        let (ours, prev) = (median(scenario, "ours", field), median(scenario, PREV, field));
        let ratio = match (ours, prev) {
            (Some(a), Some(b)) if b > 0.0 => format!("{:.2}×", a / b),
            _ => "–".to_owned(),
        };
        out.push_str(&format!("| {label} | {} | {} | {ratio} |\n", cell(ours), cell(prev)));
    }
    out
}

/// The targets, each as measured in this run.
fn targets(results: &BTreeMap<(&str, &str, &str), Vec<f64>>) -> String {
    let median = |scenario: &str, peer: &str, field: &str| {
        results.get(&(scenario, peer, field)).and_then(|v| stats(v)).map(|s| s.0)
    };
    let ratio = |scenario: &str, field: &str, other: &str| match (
        median(scenario, "ours", field),
        median(scenario, other, field),
    ) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    };
    let rows: Vec<(String, Option<f64>, f64)> = vec![
        (
            "CPU per echo round trip (100 clients, handlers that parse) ≤ 0.7× socketioxide".into(),
            ratio("echo-100", "cpu_us_per_op", "socketioxide"),
            0.7,
        ),
        (
            format!("CPU per raw forwarding round trip (100 clients) ≤ 1.15× {FLOOR}"),
            ratio("echo-raw-100", "cpu_us_per_op", FLOOR),
            1.15,
        ),
        (
            format!("CPU per broadcast delivery (10 000 clients) ≤ 0.9× {FLOOR}"),
            ratio("broadcast-10000", "cpu_us_per_op", FLOOR),
            0.9,
        ),
        (
            format!("time to last client (10 000 clients) ≤ 0.9× {FLOOR}"),
            ratio("broadcast-10000", "last_ms", FLOOR),
            0.9,
        ),
        (
            "CPU per connect ≤ 0.5× socketioxide".into(),
            ratio("connect", "cpu_us_per_op", "socketioxide"),
            0.5,
        ),
        (
            format!("CPU per 64 KiB binary echo ≤ 1.15× {FLOOR}"),
            ratio("binary-64k", "cpu_us_per_op", FLOOR),
            1.15,
        ),
        (
            "time to first client (10 000 clients) ≤ 1× node".into(),
            ratio("broadcast-10000", "first_ms", "node"),
            1.0,
        ),
        (
            "CPU per long-polling echo ≤ 1× socketioxide".into(),
            ratio("polling-50", "cpu_us_per_op", "socketioxide"),
            1.0,
        ),
    ];
    let mut out = String::from("\n| target | measured | met |\n|---|---|---|\n");
    for (name, measured, limit) in rows {
        match measured {
            Some(r) => {
                out.push_str(&format!("| {name} | {r:.2}× | {} |\n", if r <= limit { "yes" } else { "no" }))
            }
            None => out.push_str(&format!("| {name} | – | – |\n")),
        }
    }
    match median("broadcast-10000", "ours", "rss_per_client") {
        Some(rss) => out.push_str(&format!(
            "| idle RSS per WebSocket client (10 000 clients) ≤ 2 048 bytes | {rss:.0} bytes | {} |\n",
            if rss <= 2048.0 { "yes" } else { "no" }
        )),
        None => out.push_str("| idle RSS per WebSocket client (10 000 clients) ≤ 2 048 bytes | – | – |\n"),
    }
    out
}
