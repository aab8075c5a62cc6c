//! Checking options before a server runs with them.
//!
//! A value that cannot work (a zero heartbeat, a zero payload limit, a path without its
//! leading `/`) is refused when the server is built, with the option's name and what would
//! work, instead of showing up later as clients that drop after a few milliseconds. Each
//! options type checks its own fields into a [`Checker`]; a server's options check theirs and
//! those of the types they hold, so one [`ConfigError`] lists every problem at once.
//!
//! ```
//! use std::time::Duration;
//! use engineio_parser::SessionConfig;
//!
//! let config = SessionConfig { ping_interval: Duration::ZERO, max_payload: 0, ..SessionConfig::default() };
//! let error = config.validate().expect_err("two options cannot work");
//! assert_eq!(error.problems().len(), 2);
//! assert_eq!(error.problems()[0].option, "ping_interval");
//! assert!(error.to_string().starts_with("invalid configuration: `ping_interval` is 0ns"));
//! ```

use std::fmt;
use std::time::Duration;

/// One option that cannot work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidOption {
    /// The option as the configuration spells it: `ping_interval`, `cors.credentials`, or
    /// `engine.path` for an option of a nested configuration.
    pub option: String,
    /// What is wrong with its value and what would work, starting with the value (`is 0ns,
    /// but ...`).
    pub problem: String,
}

/// Options that cannot work: every one of them, in the order of the configuration's fields.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError(Vec<InvalidOption>);

impl ConfigError {
    /// The options refused, at least one.
    pub fn problems(&self) -> &[InvalidOption] {
        &self.0
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid configuration: ")?;
        for (i, invalid) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "`{}` {}", invalid.option, invalid.problem)?;
        }
        Ok(())
    }
}

/// Collects the problems of a configuration, naming each option under the current prefix.
#[derive(Debug, Default)]
pub struct Checker {
    prefix: String,
    problems: Vec<InvalidOption>,
}

impl Checker {
    /// A checker with no problem found yet.
    pub fn new() -> Self {
        Checker::default()
    }

    /// Records that `option` cannot work: `problem` starts with its value (`is 0, but ...`).
    pub fn refuse(&mut self, option: &str, problem: impl Into<String>) {
        let option =
            if self.prefix.is_empty() { option.to_owned() } else { format!("{}{option}", self.prefix) };
        self.problems.push(InvalidOption { option, problem: problem.into() });
    }

    /// Refuses a duration under 1 ms: the protocol counts time in whole milliseconds, so a
    /// shorter one is zero on the wire and in JavaScript timers.
    pub fn at_least_1ms(&mut self, option: &str, value: Duration, what: &str) {
        if value < Duration::from_millis(1) {
            self.refuse(option, format!("is {value:?}, but {what} needs at least 1 ms"));
        }
    }

    /// Refuses a zero count or size.
    pub fn nonzero(&mut self, option: &str, value: usize, what: &str) {
        if value == 0 {
            self.refuse(option, format!("is 0, but {what}"));
        }
    }

    /// Checks a nested configuration, its options named `prefix.option`.
    pub fn nested(&mut self, prefix: &str, check: impl FnOnce(&mut Checker)) {
        let outer = self.prefix.len();
        self.prefix.push_str(prefix);
        self.prefix.push('.');
        check(self);
        self.prefix.truncate(outer);
    }

    /// `Ok` when nothing was refused, else every problem found.
    pub fn finish(self) -> Result<(), ConfigError> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError(self.problems))
        }
    }
}

/// The longest delay a JavaScript timer holds (2³¹ − 1 ms, about 24.8 days): a longer one
/// fires at once. A client arms one for the ping interval plus the ping timeout.
pub const JS_TIMER_MAX: Duration = Duration::from_millis(i32::MAX as u64);

/// Whether `path` can be the path a server is served under: it starts with `/` and holds
/// no query, fragment, whitespace or control character.
pub fn check_path(checker: &mut Checker, option: &str, path: &str) {
    if !path.starts_with('/') {
        checker
            .refuse(option, format!("is {path:?}, but a request path starts with `/` (as in \"/{path}\")"));
    } else if let Some(c) =
        path.chars().find(|c| matches!(c, '?' | '#') || c.is_whitespace() || c.is_control())
    {
        checker.refuse(option, format!("is {path:?}, but a path cannot hold {c:?}"));
    }
}
