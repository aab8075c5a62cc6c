//! The events an adapter logs, captured for one test: a `tracing` subscriber set as the default
//! of the test's thread only (other tests of the binary run on other threads, with theirs).
//! A `#[tokio::test]` runs on one thread, the adapters' tasks included, so everything they log
//! while the guard lives is captured.

use std::fmt;
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::subscriber::DefaultGuard;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// One logged event.
#[derive(Debug, Clone)]
pub struct Logged {
    pub level: Level,
    /// The module that logged it (`socketio_adapter::redis::driver`).
    pub target: String,
    /// The formatted message.
    pub message: String,
    /// The other fields, each as its `Debug` text (numbers as digits).
    pub fields: Vec<(String, String)>,
}

impl Logged {
    /// The field `name`, as text.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// What was logged on this thread since [`CapturedLogs::start`].
#[derive(Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<Logged>>>);

impl CapturedLogs {
    /// Captures every event logged on this thread until the guard is dropped.
    pub fn start() -> (CapturedLogs, DefaultGuard) {
        let logs = CapturedLogs::default();
        let subscriber = tracing_subscriber::registry().with(Capture(logs.clone()));
        (logs, tracing::subscriber::set_default(subscriber))
    }

    /// The events logged at `level`, in order.
    pub fn at(&self, level: Level) -> Vec<Logged> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|e| e.level == level)
            .cloned()
            .collect()
    }
}

struct Capture(CapturedLogs);

impl<S: Subscriber> Layer<S> for Capture {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let logged = Logged {
            level: *event.metadata().level(),
            target: event.metadata().target().to_owned(),
            message: fields.message,
            fields: fields.others,
        };
        (self.0).0.lock().unwrap_or_else(|e| e.into_inner()).push(logged);
    }
}

#[derive(Default)]
struct Fields {
    message: String,
    others: Vec<(String, String)>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.record(field, value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.record(field, format!("{value:?}"));
    }
}

impl Fields {
    fn record(&mut self, field: &Field, value: String) {
        if field.name() == "message" {
            self.message = value;
        } else {
            self.others.push((field.name().to_owned(), value));
        }
    }
}
