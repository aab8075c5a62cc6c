//! The server's error types, grouped by what went wrong.

/// Why a packet could not be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EmitError {
    /// The event name is reserved by the protocol (`connect`, `connect_error`, `disconnect`,
    /// `disconnecting`, `newListener`, `removeListener`); the reference throws for these.
    #[error("\"{0}\" is a reserved event name")]
    ReservedEvent(String),
    /// The arguments could not be serialised. Carries serde's message.
    #[error("cannot serialise the arguments: {0}")]
    Serialize(String),
    /// The socket is disconnected.
    #[error("the socket is disconnected")]
    Disconnected,
}

/// Why an emit with an acknowledgement got no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AckError {
    /// The client did not answer in time (the reference's `operation has timed out`).
    #[error("operation has timed out")]
    Timeout,
    /// The socket disconnected before answering.
    #[error("the socket disconnected before answering")]
    Disconnected,
    /// The packet could not be sent.
    #[error(transparent)]
    Emit(#[from] EmitError),
}

/// Why a broadcast with acknowledgements did not collect every answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BroadcastAckError {
    /// Not every client answered in time; the answers that did arrive are kept.
    #[error("operation has timed out: {} of {expected} clients answered", responses.len())]
    Timeout {
        /// The answers that arrived, in arrival order.
        responses: Vec<crate::AckResponse>,
        /// How many clients were expected to answer, on every node.
        expected: usize,
    },
    /// The packet could not be sent.
    #[error(transparent)]
    Emit(#[from] EmitError),
    /// The adapter could not reach the other nodes.
    #[error(transparent)]
    Adapter(#[from] socketio_adapter::AdapterError),
}

/// A middleware's refusal, with a message and data. From a connection middleware, the client
/// receives it as a `connect_error` whose `err.message` is `message` and `err.data` is `data`;
/// from a packet middleware, it reaches the socket's error handlers.
///
/// ```no_run
/// use socketio_server::{ConnectError, SocketIo};
///
/// # fn setup(io: SocketIo) {
/// io.use_middleware(|socket| async move {
///     let token = socket.auth().get("token").and_then(|t| t.as_str()).map(str::to_owned);
///     match token {
///         Some(token) if token == "s3cret" => Ok(()),
///         // On the client: `socket.on("connect_error", (err) => { err.message, err.data })`.
///         Some(_) => Err(ConnectError::new("invalid token").with_data(serde_json::json!({ "retry": false }))),
///         None => Err(ConnectError::new("no token")),
///     }
/// });
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ConnectError {
    /// The message.
    pub message: String,
    /// Extra JSON data, if any.
    pub data: Option<serde_json::Value>,
}

impl ConnectError {
    /// A refusal with `message`.
    pub fn new(message: impl Into<String>) -> Self {
        ConnectError { message: message.into(), data: None }
    }

    /// The same refusal with `data` for the client.
    #[must_use]
    pub fn with_data(mut self, data: impl serde::Serialize) -> Self {
        self.data = Some(serde_json::to_value(data).unwrap_or(serde_json::Value::Null));
        self
    }
}

/// An error reported to a socket's `on_error` handlers.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SocketError {
    /// The client sent a packet that could not be decoded; the connection is closed.
    #[error("invalid packet: {0}")]
    Decode(#[from] socketio_parser::DecodeError),
    /// A packet middleware (`Socket::use_middleware`) refused a packet, with this message and
    /// data; the packet was dropped.
    #[error("{0}")]
    Middleware(ConnectError),
}

/// Why a handler could not be added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ListenerError {
    /// A server socket never emits this event (`connect`, `connect_error`, `newListener`,
    /// `removeListener`): the handler could never run. `connect_error` is a client event;
    /// a server learns of a refused connection in its middlewares.
    #[error("a server socket never emits \"{0}\": its handler could never run")]
    NeverEmitted(String),
}
