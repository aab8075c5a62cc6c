//! `conformance`: black-box protocol conformance runner.
//!
//! ```text
//! conformance engine.io --url http://127.0.0.1:3000 [--filter SUBSTR] [--json PATH] [--slack-ms MS] [--list]
//! conformance socket.io --url http://127.0.0.1:3000 [--eio3] [--msgpack] [...the same flags]
//! ```
//!
//! Prints `PASS name` or `FAIL name: reason` per case, then `N passed, M failed`; exits with
//! status 1 when a case failed and 2 on a usage error. The server contract is in
//! `conformance/README.md`.

use std::io::Write as _;
use std::process::ExitCode;

use conformance::runner::{engineio, run_case, select, socketio, Case, Contract, Report, Target};

const USAGE: &str = "usage: conformance engine.io|socket.io --url http://HOST:PORT[/PATH] [--filter SUBSTR] \
[--json PATH] [--slack-ms MS] [--list]
       socket.io only: --eio3 (add the Engine.IO v3 / Socket.IO v4 cases; the server allows EIO=3)
                       --msgpack (the server speaks socket.io-msgpack-parser: run its cases instead)";

/// Which suite to run.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Suite {
    EngineIo,
    SocketIo,
}

struct Args {
    suite: Suite,
    eio3: bool,
    msgpack: bool,
    url: String,
    filter: Option<String>,
    json: Option<String>,
    slack_ms: Option<u64>,
    list: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let suite = match args.next().as_deref() {
        Some("engine.io") => Suite::EngineIo,
        Some("socket.io") => Suite::SocketIo,
        Some(other) => return Err(format!("unknown suite {other:?} (available: engine.io, socket.io)")),
        None => return Err("missing suite".into()),
    };
    let mut parsed = Args {
        suite,
        eio3: false,
        msgpack: false,
        url: "http://127.0.0.1:3000".into(),
        filter: None,
        json: None,
        slack_ms: None,
        list: false,
    };
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => parsed.url = value()?,
            "--filter" => parsed.filter = Some(value()?),
            "--json" => parsed.json = Some(value()?),
            "--slack-ms" => {
                parsed.slack_ms =
                    Some(value()?.parse().map_err(|_| "--slack-ms takes milliseconds".to_owned())?)
            }
            "--list" => parsed.list = true,
            "--eio3" if suite == Suite::SocketIo => parsed.eio3 = true,
            "--msgpack" if suite == Suite::SocketIo => parsed.msgpack = true,
            other => return Err(format!("unknown flag {other:?}")),
        }
    }
    if parsed.eio3 && parsed.msgpack {
        return Err("--eio3 and --msgpack cannot be combined: the v3 cases speak the default parser".into());
    }
    Ok(parsed)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("{e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let (cases, contract): (Vec<Case>, Contract) = match args.suite {
        Suite::EngineIo => (engineio::cases(), Contract::EngineIoEcho),
        Suite::SocketIo => (socketio::suite(args.eio3, args.msgpack), Contract::SocketIo),
    };
    let mut out = std::io::stdout().lock();
    if args.list {
        for case in select(&cases, args.filter.as_deref()) {
            if writeln!(out, "{:<40} {}", case.name, case.description).is_err() {
                return ExitCode::FAILURE;
            }
        }
        return ExitCode::SUCCESS;
    }
    let target = match Target::parse_for(&args.url, contract) {
        Ok(target) => {
            Target { slack: args.slack_ms.map_or(target.slack, std::time::Duration::from_millis), ..target }
        }
        Err(e) => {
            eprintln!("{e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    // Each line is printed as its case ends; a closed standard output ends the run.
    let mut report = Report { target: target.url(), cases: Vec::new() };
    for case in select(&cases, args.filter.as_deref()) {
        let outcome = run_case(&target, case).await;
        let line = match &outcome.reason {
            None => writeln!(out, "PASS {}", outcome.name),
            Some(reason) => writeln!(out, "FAIL {}: {reason}", outcome.name),
        };
        if line.is_err() {
            return ExitCode::FAILURE;
        }
        report.cases.push(outcome);
    }
    if writeln!(out, "{} passed, {} failed", report.passed(), report.failed()).is_err() {
        return ExitCode::FAILURE;
    }
    if let Some(path) = &args.json {
        if let Err(e) = std::fs::write(path, report.to_json()) {
            eprintln!("cannot write {path}: {e}");
            return ExitCode::from(2);
        }
    }
    if report.failed() == 0 && !report.cases.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
