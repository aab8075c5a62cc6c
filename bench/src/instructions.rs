//! Instructions per operation, counted by `valgrind --tool=callgrind` in the server process.
//!
//! CPU time on a shared 2-core machine swings by ±30% from one run to the next; the number of
//! instructions a server executes for the same work does not. Each scenario runs twice against a
//! fresh server under callgrind, once small and once large, and the figure is the difference of
//! the two totals divided by the difference of the operations done: start-up, the connects of a
//! broadcast's clients and the shutdown cancel out. What it leaves out is what instructions do
//! not show (cache misses, time in the kernel), so it complements the CPU time, never replaces it.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::peers::{Launch, Peer};

/// One workload, in a small and a large size.
pub struct Workload {
    /// The name in the report and in the callgrind files' names.
    pub name: &'static str,
    /// The figure's row label.
    pub label: &'static str,
    /// The loadgen arguments of the small run.
    pub small: &'static [&'static str],
    /// The loadgen arguments of the large run: the same scenario, more operations.
    pub large: &'static [&'static str],
    /// The operations a loadgen run reports having done.
    pub ops: fn(&Value) -> Option<f64>,
}

/// The workloads: sized for a server running about 50 times slower than native.
pub const WORKLOADS: &[Workload] = &[
    Workload {
        name: "connect",
        label: "instructions per connect",
        small: &["--scenario", "connect", "--clients", "200", "--concurrency", "16"],
        large: &["--scenario", "connect", "--clients", "1200", "--concurrency", "16"],
        ops: |v| v["clients"].as_f64(),
    },
    Workload {
        name: "echo-100",
        label: "instructions per echo round trip, 100 clients",
        small: &["--scenario", "echo", "--clients", "100", "--seconds", "2"],
        large: &["--scenario", "echo", "--clients", "100", "--seconds", "6"],
        ops: |v| v["round_trips"].as_f64(),
    },
    Workload {
        name: "broadcast-1000",
        label: "instructions per broadcast delivery, 1000 clients",
        small: &["--scenario", "broadcast", "--clients", "1000", "--rounds", "5", "--settle-ms", "3000"],
        large: &["--scenario", "broadcast", "--clients", "1000", "--rounds", "25", "--settle-ms", "3000"],
        ops: |v| Some(v["clients"].as_f64()? * v["rounds"].as_f64()?),
    },
];

/// Instructions per operation of `workload` on `peer`, from a small and a large run; the
/// callgrind files go to `dir`.
pub fn per_op(peer: &Peer, workload: &Workload, port: u16, dir: &Path) -> Result<f64, String> {
    let (small_ir, small_ops) = run(peer, workload, workload.small, port, dir, "small")?;
    let (large_ir, large_ops) = run(peer, workload, workload.large, port + 1, dir, "large")?;
    if large_ops <= small_ops {
        return Err(format!("the large run did no more operations ({large_ops} ≤ {small_ops})"));
    }
    Ok((large_ir - small_ir) / (large_ops - small_ops))
}

fn run(
    peer: &Peer,
    workload: &Workload,
    args: &[&str],
    port: u16,
    dir: &Path,
    size: &str,
) -> Result<(f64, f64), String> {
    let out = dir.join(format!("{}-{}-{size}.callgrind", peer.name, workload.name));
    let _ = std::fs::remove_file(&out);
    let launch = Launch { callgrind: Some(out.clone()), ..Launch::default() };
    let json = crate::peers::run_loadgen(peer, port, &launch, args)?;
    let ops = (workload.ops)(&json).ok_or_else(|| format!("loadgen reported no operation count: {json}"))?;
    Ok((total(&out)?, ops))
}

/// The instructions a callgrind output file counted.
pub fn total(path: &Path) -> Result<f64, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("no callgrind output {}: {e}", path.display()))?;
    parse_total(&text).ok_or_else(|| format!("{} holds no `totals:` line", path.display()))
}

fn parse_total(text: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix("totals:")).and_then(|t| t.trim().parse::<f64>().ok())
}

/// Whether valgrind can run here.
pub fn available() -> bool {
    Command::new("valgrind").arg("--version").output().is_ok_and(|o| o.status.success())
}

/// The folder the callgrind files of a run go to.
pub fn out_dir() -> PathBuf {
    PathBuf::from("target/callgrind")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_total_is_read_from_the_totals_line() {
        let text = "version: 1\ncmd: echo\nevents: Ir\nsummary: 120\nfn=(1) main\n0 5\ntotals: 119452785\n";
        assert_eq!(parse_total(text), Some(119_452_785.0));
        assert_eq!(parse_total("summary: 3\n"), None);
    }

    #[test]
    fn every_workload_grows_and_counts_its_operations() {
        let broadcast = serde_json::json!({ "clients": 1000, "rounds": 25 });
        let last = WORKLOADS.iter().find(|w| w.name == "broadcast-1000").expect("a broadcast workload");
        assert_eq!((last.ops)(&broadcast), Some(25_000.0));
        for w in WORKLOADS {
            assert_ne!(w.small, w.large, "{}", w.name);
            assert_eq!(w.small[..2], w.large[..2], "{}: one scenario in both sizes", w.name);
        }
    }
}
