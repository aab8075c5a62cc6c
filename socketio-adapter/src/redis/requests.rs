//! The requests this node waits on: what each one collects, how many answers it expects, and the
//! reference's error when they do not all arrive in time.

use std::collections::HashMap;

use tokio::sync::oneshot;

use super::wire::{self, Response};
use crate::adapter::SocketDetails;
pub use crate::cluster::{RequestError, RequestKind, RequestTimeout};
use crate::rooms::Room;

/// What a request collects from the answers.
#[derive(Debug)]
pub(crate) enum Collected {
    /// `REMOTE_FETCH`: socket details, this node's first.
    Sockets(Vec<SocketDetails>),
    /// `ALL_ROOMS`: rooms without repeats, this node's first.
    Rooms(Vec<Room>),
    /// `SERVER_SIDE_EMIT`: one answer per node.
    Answers(Vec<serde_json::Value>),
}

/// One request waiting for answers.
#[derive(Debug)]
pub(crate) struct Pending {
    kind: RequestKind,
    /// Known once the server count is in.
    expected: Option<usize>,
    received: usize,
    collected: Collected,
    done: Option<oneshot::Sender<()>>,
}

impl Pending {
    /// A request that counts `received` answers already (this node's own), and the signal that
    /// fires when every answer is in.
    pub(crate) fn new(
        kind: RequestKind,
        received: usize,
        collected: Collected,
    ) -> (Self, oneshot::Receiver<()>) {
        let (done, signal) = oneshot::channel();
        (Pending { kind, expected: None, received, collected, done: Some(done) }, signal)
    }

    fn check(&mut self) {
        if self.expected.is_some_and(|expected| self.received >= expected) {
            if let Some(done) = self.done.take() {
                let _ = done.send(());
            }
        }
    }

    fn add(&mut self, response: Response) {
        match &mut self.collected {
            Collected::Sockets(sockets) => {
                self.received += 1;
                sockets.extend(response.sockets.into_iter().flatten().filter_map(wire::socket_details));
            }
            Collected::Rooms(rooms) => {
                self.received += 1;
                for room in response.rooms.into_iter().flatten() {
                    if !rooms.contains(&room) {
                        rooms.push(room);
                    }
                }
            }
            Collected::Answers(answers) => {
                answers
                    .push(response.data.as_ref().map(wire::to_json_value).unwrap_or(serde_json::Value::Null));
                self.received = answers.len();
            }
        }
        self.check();
    }

    /// What was collected: complete, or the timeout with the partial results.
    pub(crate) fn finish(self) -> Result<Collected, RequestTimeout<Collected>> {
        let expected = self.expected.unwrap_or(usize::MAX);
        if self.received >= expected {
            Ok(self.collected)
        } else {
            Err(RequestTimeout {
                kind: self.kind,
                received: self.received,
                expected,
                partial: self.collected,
            })
        }
    }
}

/// The requests of one adapter, by request id.
#[derive(Debug, Default)]
pub(crate) struct Requests {
    pending: HashMap<String, Pending>,
}

impl Requests {
    pub(crate) fn insert(&mut self, id: String, pending: Pending) {
        self.pending.insert(id, pending);
    }

    pub(crate) fn contains(&self, id: &str) -> bool {
        self.pending.contains_key(id)
    }

    /// Sets how many answers request `id` expects, once the server count is known.
    pub(crate) fn expect(&mut self, id: &str, expected: usize) {
        if let Some(pending) = self.pending.get_mut(id) {
            pending.expected = Some(expected);
            pending.check();
        }
    }

    /// Counts an answer; answers to unknown requests are ignored, as in the reference.
    pub(crate) fn on_response(&mut self, id: &str, response: Response) {
        if let Some(pending) = self.pending.get_mut(id) {
            pending.add(response);
        }
    }

    pub(crate) fn take(&mut self, id: &str) -> Option<Pending> {
        self.pending.remove(id)
    }

    /// Drops every request: their waiters see the adapter closed.
    pub(crate) fn clear(&mut self) {
        self.pending.clear();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::adapter::AdapterError;
    use socketio_parser::Value;

    fn rooms_response(rooms: &[&str]) -> Response {
        Response { rooms: Some(rooms.iter().map(|r| Room::from(*r)).collect()), ..Response::default() }
    }

    #[test]
    fn completes_when_every_node_answered() {
        let mut requests = Requests::default();
        let (pending, mut signal) =
            Pending::new(RequestKind::AllRooms, 1, Collected::Rooms(vec!["a".into()]));
        requests.insert("r".into(), pending);
        // An answer may come before the server count.
        requests.on_response("r", rooms_response(&["a", "b"]));
        assert!(signal.try_recv().is_err());
        requests.expect("r", 3);
        assert!(signal.try_recv().is_err());
        requests.on_response("other", rooms_response(&["x"]));
        requests.on_response("r", rooms_response(&["c"]));
        assert!(signal.try_recv().is_ok());
        let Ok(Collected::Rooms(rooms)) = requests.take("r").unwrap().finish() else { panic!("complete") };
        assert_eq!(rooms, ["a", "b", "c"]);
    }

    #[test]
    fn a_timeout_keeps_the_partial_answers_and_the_reference_text() {
        let (mut pending, _signal) =
            Pending::new(RequestKind::ServerSideEmit, 0, Collected::Answers(Vec::new()));
        pending.expected = Some(2);
        pending.add(Response { data: Some(Value::from("ok")), ..Response::default() });
        let timeout = pending.finish().unwrap_err();
        assert_eq!(timeout.to_string(), "timeout reached: only 1 responses received out of 2");
        let Collected::Answers(answers) = &timeout.partial else { panic!("answers") };
        assert_eq!(answers, &[serde_json::json!("ok")]);
        let error = AdapterError::from(RequestError::Timeout(timeout));
        assert_eq!(error, AdapterError::Timeout { received: 1, expected: 2 });
    }
}
