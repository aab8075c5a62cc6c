//! A black-box conformance runner: scenarios that drive a live server over raw HTTP/1.1 and
//! WebSocket and judge only what comes back on the wire.
//!
//! Two suites, each for the server contract of an official protocol test suite (described in
//! `conformance/README.md`):
//!
//! * [`engineio::cases`]: Engine.IO v4, for an echo server on `/engine.io/` with `pingInterval`
//!   300 ms, `pingTimeout` 200 ms and `maxPayload` 1000000 ([`Contract::EngineIoEcho`]);
//! * [`socketio::suite`]: Socket.IO v5 on `/socket.io/` with the same timers, a 1 s connect
//!   timeout and the suite's handlers ([`Contract::SocketIo`]): the Engine.IO cases that need
//!   no echo ([`engineio::transport_cases`]), the Socket.IO protocol, the reference's refusals
//!   of malformed packets, advisory triggers; [`eio3::cases`] for servers that accept Engine.IO
//!   v3 clients and [`msgpack::cases`] for servers that speak `socket.io-msgpack-parser`.
//!
//! # What it does not do
//!
//! It starts no server and uses none of this workspace's server code; HTTP and WebSocket are
//! spoken by the small clients in this module (no TLS, no compression, no extensions).
//!
//! # Example
//!
//! ```no_run
//! # async fn demo() -> Result<(), String> {
//! use conformance::runner::{engineio, run, Target};
//! let target = Target::parse("http://127.0.0.1:3000")?;
//! let report = run(&target, &engineio::cases(), None).await;
//! assert_eq!(report.failed(), 0);
//!
//! use conformance::runner::{socketio, Contract};
//! let target = Target::parse_for("http://127.0.0.1:3001", Contract::SocketIo)?;
//! let report = run(&target, &socketio::suite(false, false), None).await;
//! assert_eq!(report.failed(), 0);
//! # Ok(())
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use serde::Serialize;

pub mod eio3;
pub mod engineio;
mod http;
pub mod msgpack;
pub mod socketio;
mod ws;

/// Which server contract the target implements, so that the cases shared by both suites check
/// liveness the way the server can answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Contract {
    /// An Engine.IO echo server (the engine.io-protocol suite's contract).
    #[default]
    EngineIoEcho,
    /// The socket.io-protocol suite's server (`auth`, `message` → `message-back`,
    /// `message-with-ack`, namespace `/custom`).
    SocketIo,
}

impl Contract {
    /// The Engine.IO path the contract's server listens on.
    pub fn default_path(self) -> &'static str {
        match self {
            Contract::EngineIoEcho => "/engine.io/",
            Contract::SocketIo => "/socket.io/",
        }
    }
}

/// The server under test: host, port and Engine.IO path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Host name or IP address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Engine.IO path, with leading and trailing slash (`/engine.io/`).
    pub path: String,
    /// Time granted on top of the server's timers before a late reaction fails a case (300 ms by
    /// default; `--slack-ms`). A larger slack checks the behaviour without judging its speed.
    pub slack: std::time::Duration,
    /// The contract the server implements.
    pub contract: Contract,
}

/// The default [`Target::slack`].
pub const DEFAULT_SLACK: std::time::Duration = std::time::Duration::from_millis(300);

impl Target {
    /// Parses `http://host[:port][/path]` for an Engine.IO echo server. Without a path the
    /// contract's `/engine.io/` is used; a path gets a trailing slash added.
    pub fn parse(url: &str) -> Result<Self, String> {
        Self::parse_for(url, Contract::EngineIoEcho)
    }

    /// Parses `http://host[:port][/path]` for a server implementing `contract`; without a path
    /// the contract's default path is used.
    pub fn parse_for(url: &str, contract: Contract) -> Result<Self, String> {
        let rest =
            url.strip_prefix("http://").ok_or_else(|| format!("{url:?}: only http:// URLs are supported"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (h, p.parse().map_err(|_| format!("{url:?}: bad port {p:?}"))?),
            None => (authority, 80),
        };
        if host.is_empty() {
            return Err(format!("{url:?}: missing host"));
        }
        let path = match path.trim_end_matches('/') {
            "" => contract.default_path().to_owned(),
            p => format!("{p}/"),
        };
        Ok(Self { host: host.to_owned(), port, path, slack: DEFAULT_SLACK, contract })
    }

    /// `host:port`.
    pub fn authority(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// `http://host:port/path/`.
    pub fn url(&self) -> String {
        format!("http://{}{}", self.authority(), self.path)
    }
}

/// The future a case's body returns: `Err` carries the failure reason.
pub type CaseFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// A case's body: called once per run with the target.
pub type CaseFn = std::sync::Arc<dyn Fn(Target) -> CaseFuture + Send + Sync>;

/// One independent scenario.
#[derive(Clone)]
pub struct Case {
    /// Stable dotted name (`handshake.polling`), used by `--filter`.
    pub name: &'static str,
    /// What the case checks, one line.
    pub description: &'static str,
    /// The whole case fails with a timeout past this.
    pub timeout: Duration,
    /// The scenario.
    pub run: CaseFn,
}

impl std::fmt::Debug for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Case").field("name", &self.name).field("timeout", &self.timeout).finish()
    }
}

/// The result of one case.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The case's name.
    pub name: &'static str,
    /// Whether it passed.
    pub passed: bool,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Wall time spent, in milliseconds.
    pub duration_ms: u64,
}

/// The results of a run, in case order.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The server URL that was tested.
    pub target: String,
    /// One outcome per selected case.
    pub cases: Vec<Outcome>,
}

impl Report {
    /// How many cases passed.
    pub fn passed(&self) -> usize {
        self.cases.iter().filter(|c| c.passed).count()
    }

    /// How many cases failed.
    pub fn failed(&self) -> usize {
        self.cases.len() - self.passed()
    }

    /// One `FAIL name: reason` line per failed case.
    pub fn failures(&self) -> Vec<String> {
        self.cases.iter().filter_map(|c| c.reason.as_ref().map(|r| format!("FAIL {}: {r}", c.name))).collect()
    }

    /// The report as pretty JSON: `{"target", "passed", "failed", "cases": [{"name", "passed",
    /// "reason"?, "duration_ms"}]}`.
    pub fn to_json(&self) -> String {
        #[derive(Serialize)]
        struct Json<'a> {
            target: &'a str,
            passed: usize,
            failed: usize,
            cases: &'a [Outcome],
        }
        let json =
            Json { target: &self.target, passed: self.passed(), failed: self.failed(), cases: &self.cases };
        serde_json::to_string_pretty(&json).unwrap_or_default()
    }
}

/// A case for each entry of a static table, all run by `body`.
pub(crate) fn table_case<T: Sync>(
    name: &'static str,
    description: &'static str,
    entry: &'static T,
    body: fn(Target, &'static T) -> CaseFuture,
) -> Case {
    Case {
        name,
        description,
        timeout: Duration::from_secs(5),
        run: std::sync::Arc::new(move |t: Target| -> CaseFuture { body(t, entry) }),
    }
}

/// Runs one case under its timeout.
pub async fn run_case(target: &Target, case: &Case) -> Outcome {
    let start = Instant::now();
    let result = match tokio::time::timeout(case.timeout, (case.run)(target.clone())).await {
        Ok(result) => result,
        Err(_) => Err(format!("timed out after {} ms", case.timeout.as_millis())),
    };
    Outcome {
        name: case.name,
        passed: result.is_ok(),
        reason: result.err(),
        duration_ms: start.elapsed().as_millis() as u64,
    }
}

/// Runs the cases whose name contains `filter` (all when `None`), one after another.
pub async fn run(target: &Target, cases: &[Case], filter: Option<&str>) -> Report {
    let mut outcomes = Vec::new();
    for case in select(cases, filter) {
        outcomes.push(run_case(target, case).await);
    }
    Report { target: target.url(), cases: outcomes }
}

/// The cases whose name contains `filter` (all when `None`).
pub fn select<'a>(cases: &'a [Case], filter: Option<&str>) -> Vec<&'a Case> {
    cases.iter().filter(|c| filter.is_none_or(|f| c.name.contains(f))).collect()
}
