//! A harness that drives one session on simulated time: "given these inputs at these instants,
//! expect these transmits and events".

#![allow(dead_code, unreachable_pub)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use engineio_parser::session::{CloseCode, ResponseKind};
use engineio_parser::{
    ByteString, Event, Frame, Initial, ProtocolVersion, RequestId, RequestKind, Response, Session,
    SessionConfig, SocketId, Transmit,
};

pub const SID: &str = "AAAAAAAAAAAAAAAAAAAA";
pub const HANDSHAKE_V4: &str = r#"0{"sid":"AAAAAAAAAAAAAAAAAAAA","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;

pub struct Harness {
    pub session: Session,
    pub start: Instant,
    pub now: Instant,
    next_request: u64,
}

impl Harness {
    /// A polling session whose handshake GET was request 0; the handshake response is consumed.
    pub fn polling(version: ProtocolVersion) -> Self {
        Self::polling_with(version, SessionConfig::default())
    }

    pub fn polling_with(version: ProtocolVersion, config: SessionConfig) -> Self {
        let mut h = Self::start(version, config, Initial::Polling(RequestId(0)));
        let handshake = h.transmits();
        assert!(matches!(&handshake[..], [Transmit::Respond { request: RequestId(0), .. }]), "{handshake:?}");
        h
    }

    /// A session in its first instant, nothing polled.
    pub fn start(version: ProtocolVersion, config: SessionConfig, initial: Initial) -> Self {
        let start = Instant::now();
        let session = Session::new(SID, version, false, config, initial, start);
        Harness { session, start, now: start, next_request: 1 }
    }

    pub fn at(&self, ms: u64) -> Instant {
        self.start + Duration::from_millis(ms)
    }

    /// Moves the clock to `ms` after the start and fires due timers.
    pub fn advance_to(&mut self, ms: u64) {
        self.now = self.at(ms);
        self.session.handle_timeout(self.now);
    }

    pub fn transmits(&mut self) -> Vec<Transmit> {
        std::iter::from_fn(|| self.session.poll_transmit()).collect()
    }

    pub fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.session.poll_event()).collect()
    }

    pub fn request(&mut self) -> RequestId {
        self.next_request += 1;
        RequestId(self.next_request)
    }

    /// A GET; returns its id.
    pub fn get(&mut self) -> RequestId {
        let r = self.request();
        self.session.handle_request(r, RequestKind::Poll, self.now);
        r
    }

    /// A whole POST with a text body; returns its transmits.
    pub fn post(&mut self, body: &str) -> Vec<Transmit> {
        let r = self.request();
        self.session.handle_request(r, RequestKind::Post { binary: false }, self.now);
        self.session.handle_body(r, Bytes::copy_from_slice(body.as_bytes()), self.now);
        let t = self.transmits();
        assert!(
            t.contains(&respond_ok(r))
                || t.iter().any(|t| matches!(t, Transmit::Respond { request, .. } if *request == r))
        );
        t
    }

    pub fn frame(&mut self, socket: u64, text: &str) {
        self.session.handle_frame(SocketId(socket), Frame::Text(ByteString::from(text.to_owned())), self.now);
    }
}

pub fn respond_ok(request: RequestId) -> Transmit {
    Transmit::Respond {
        request,
        response: Response {
            status: 200,
            kind: ResponseKind::Ok,
            content_type: Some("text/html"),
            body: Bytes::from_static(b"ok"),
            compress: false,
        },
    }
}

/// A 200 payload response with `body`.
pub fn payload(request: RequestId, body: &str) -> Transmit {
    Transmit::Respond {
        request,
        response: Response {
            status: 200,
            kind: ResponseKind::Payload,
            content_type: Some("text/plain; charset=UTF-8"),
            body: Bytes::copy_from_slice(body.as_bytes()),
            compress: true,
        },
    }
}

pub fn empty(request: RequestId, status: u16) -> Transmit {
    Transmit::Respond { request, response: Response::empty(status) }
}

pub fn text_frame(socket: u64, text: &str) -> Transmit {
    Transmit::Send {
        socket: SocketId(socket),
        frame: Frame::Text(ByteString::from(text.to_owned())),
        compress: true,
    }
}

pub fn close_socket(socket: u64) -> Transmit {
    Transmit::CloseSocket { socket: SocketId(socket), code: CloseCode::Normal }
}

/// The `Closed` event with `reason` and `description`.
pub fn closed_with(reason: engineio_parser::CloseReason, description: &'static str) -> Event {
    Event::Closed { reason, description }
}
