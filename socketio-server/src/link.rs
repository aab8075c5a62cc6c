//! What a namespace lends its adapter for the work that comes from other nodes, and the
//! server-side event handlers those nodes reach.

use std::sync::{Arc, Mutex, Weak};

use serde::Serialize;
use socketio_adapter::{NamespaceLink, ServerSideReply};
use socketio_parser::{EncodedPacket, Payload, Value};
use tokio::sync::mpsc;

use crate::encode;
use crate::namespace::NsInner;
use crate::run::{run_now_or_spawn, HandlerFuture};
use crate::socket::Socket;

/// A handler of server-side events (see [`Namespace::on_server_side_emit`](crate::Namespace::on_server_side_emit)).
pub(crate) type ServerSideHandler =
    Arc<dyn Fn(Vec<serde_json::Value>, Option<ServerAck>) -> HandlerFuture + Send + Sync>;

/// The answer to a server-side event another node sent with
/// [`server_side_emit_with_ack`](crate::Namespace::server_side_emit_with_ack). Every handler
/// of the event gets a clone; the first answer is sent back, later ones are ignored, as in the
/// reference.
#[derive(Clone)]
pub struct ServerAck(Arc<Mutex<Option<ServerSideReply>>>);

impl std::fmt::Debug for ServerAck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerAck").field("answered", &self.answered()).finish()
    }
}

impl ServerAck {
    fn new(reply: ServerSideReply) -> Self {
        ServerAck(Arc::new(Mutex::new(Some(reply))))
    }

    /// Sends `value` (one argument, JSON) back to the node that asked. Answers false when
    /// the event was already answered or `value` does not serialise.
    pub fn send<T: Serialize + ?Sized>(&self, value: &T) -> bool {
        let Ok(value) = serde_json::to_value(value) else { return false };
        let reply = self.0.lock().unwrap_or_else(|e| e.into_inner()).take();
        match reply {
            Some(reply) => {
                reply(value);
                true
            }
            None => false,
        }
    }

    /// Whether an answer was sent.
    pub fn answered(&self) -> bool {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).is_none()
    }
}

/// The link of one namespace; it holds the namespace weakly, so an adapter keeping it does not
/// keep the namespace alive.
pub(crate) struct Link {
    pub(crate) ns: Weak<NsInner>,
    pub(crate) name: String,
}

impl Link {
    fn ns(&self) -> Option<Arc<NsInner>> {
        self.ns.upgrade()
    }
}

impl NamespaceLink<Socket> for Link {
    fn name(&self) -> &str {
        &self.name
    }

    fn encode_event(&self, data: &Value, ack_id: Option<u64>) -> Option<EncodedPacket> {
        let ns = self.ns()?;
        if data.as_array().is_none_or(<[Value]>::is_empty) {
            return None;
        }
        match encode::value_payload(ns.parser, data) {
            Ok(payload) => Some(encode::event(ns.parser, &ns.name, payload, ack_id)),
            Err(e) => {
                tracing::warn!(nsp = %ns.name, error = %e, "a packet from another node cannot be encoded");
                None
            }
        }
    }

    fn next_ack_id(&self) -> u64 {
        self.ns().map_or(0, |ns| ns.next_ack_id())
    }

    fn ack_sink(
        &self,
        on_answer: Box<dyn Fn(Value) + Send + Sync>,
    ) -> mpsc::UnboundedSender<Result<Payload, crate::AckError>> {
        let (tx, mut rx) = mpsc::unbounded_channel::<Result<Payload, crate::AckError>>();
        // Ends when the last socket still awaiting an answer drops its sender.
        tokio::spawn(async move {
            while let Some(answer) = rx.recv().await {
                let Ok(payload) = answer else { continue };
                let first = socketio_parser::payload_values(&payload)
                    .ok()
                    .and_then(|args| args.into_iter().next())
                    .unwrap_or(Value::Null);
                on_answer(first);
            }
        });
        tx
    }

    fn forward_ack(&self, sink: &mpsc::UnboundedSender<Result<Payload, crate::AckError>>, answer: Value) {
        let Some(ns) = self.ns() else { return };
        match encode::value_payload(ns.parser, &Value::Array(vec![answer])) {
            Ok(payload) => {
                let _ = sink.send(Ok(payload));
            }
            Err(e) => {
                tracing::warn!(nsp = %ns.name, error = %e, "an answer from another node cannot be encoded")
            }
        }
    }

    fn server_side_event(&self, args: Vec<serde_json::Value>, reply: Option<ServerSideReply>) {
        let Some(ns) = self.ns() else { return };
        let mut args = args.into_iter();
        let Some(serde_json::Value::String(event)) = args.next() else { return };
        let args: Vec<serde_json::Value> = args.collect();
        let handlers = ns.server_side_handlers(&event);
        let ack = reply.map(ServerAck::new);
        for handler in handlers {
            run_now_or_spawn(handler(args.clone(), ack.clone()));
        }
    }
}
