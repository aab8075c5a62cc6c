//! Connection state recovery through the whole stack: a first connection is given a private
//! id (`40{"sid":...,"pid":...}`); a client that comes back presents `pid` and `offset` in its
//! `CONNECT`, and when the application restores its session the packets it missed reach the
//! client BEFORE the `CONNECT` answer, in order, on polling (one payload) and on WebSocket
//! (one frame each).
//!
//! The glue (emit the missed packets, then accept) is `Stack::accept_recovered`, the one place
//! to change when `accept` takes the missed packets itself.

use crate::harness;

use harness::*;
use socketio_parser::connection::{Event, Recovery};

const SOCKET: &str = "SIOsocketSIOsocket01";
const PID: &str = "SIOprivateSIOprivate";
const RECONNECT: &str = r#"40{"pid":"SIOprivateSIOprivate","offset":"MTcwMDAwMDAwMDAwMC0w"}"#;
const MISSED: [&str; 2] = [r#"["news",1,"MTcwMDAwMDAwMDAwMS0w"]"#, r#"["news",2,"MTcwMDAwMDAwMDAwMi0w"]"#];

fn reconnect_seen() -> Seen {
    Seen::Io(Event::Connect {
        nsp: nsp("/"),
        auth: socketio_parser::RawJson::new(
            r#"{"pid":"SIOprivateSIOprivate","offset":"MTcwMDAwMDAwMDAwMC0w"}"#,
        )
        .expect("valid JSON"),
        recovery: Some(Box::new(Recovery { pid: PID.to_owned(), offset: "MTcwMDAwMDAwMDAwMC0w".to_owned() })),
    })
}

#[test]
fn a_first_connection_gets_a_private_id() {
    let mut h = Stack::polling_opened(Setup::v4());
    h.post(&["40"]);
    h.seen();
    h.accept_with_pid("/", SOCKET, PID);
    assert_eq!(h.poll(), [r#"40{"sid":"SIOsocketSIOsocket01","pid":"SIOprivateSIOprivate"}"#]);
}

#[test]
fn missed_packets_come_before_the_connect_answer_on_polling() {
    let mut h = Stack::polling_opened(Setup::v4());
    let get = h.get();
    h.post(&[RECONNECT]);
    assert_eq!(h.seen(), [reconnect_seen()]);
    // The application restores the session (after asking its adapter, which takes a while).
    h.advance_to(ms(5));
    h.accept_recovered("/", SOCKET, PID, &MISSED);
    assert_eq!(
        h.received(),
        [packets(
            get,
            &[
                r#"42["news",1,"MTcwMDAwMDAwMDAwMS0w"]"#,
                r#"42["news",2,"MTcwMDAwMDAwMDAwMi0w"]"#,
                r#"40{"sid":"SIOsocketSIOsocket01","pid":"SIOprivateSIOprivate"}"#,
            ]
        )]
    );
    assert!(h.conn.is_connected("/"));
}

#[test]
fn missed_packets_wait_with_the_connect_answer_for_the_next_poll() {
    let mut h = Stack::polling_opened(Setup::v4());
    h.post(&[RECONNECT]);
    h.seen();
    h.accept_recovered("/", SOCKET, PID, &MISSED);
    assert_eq!(h.received(), []);
    let answer = h.poll();
    assert_eq!(
        answer.last().map(String::as_str),
        Some(r#"40{"sid":"SIOsocketSIOsocket01","pid":"SIOprivateSIOprivate"}"#)
    );
    assert_eq!(
        answer[..2],
        [r#"42["news",1,"MTcwMDAwMDAwMDAwMS0w"]"#, r#"42["news",2,"MTcwMDAwMDAwMDAwMi0w"]"#]
    );
}

#[test]
fn missed_packets_come_before_the_connect_answer_on_websocket() {
    let mut h = Stack::websocket_opened(Setup::v4());
    h.ws_send(WS0, RECONNECT);
    assert_eq!(h.seen(), [reconnect_seen()]);
    h.accept_recovered("/", SOCKET, PID, &MISSED);
    assert_eq!(
        h.received(),
        [
            text(WS0, r#"42["news",1,"MTcwMDAwMDAwMDAwMS0w"]"#),
            text(WS0, r#"42["news",2,"MTcwMDAwMDAwMDAwMi0w"]"#),
            text(WS0, r#"40{"sid":"SIOsocketSIOsocket01","pid":"SIOprivateSIOprivate"}"#),
        ]
    );
}

#[test]
fn a_recovered_socket_counts_as_joined_for_the_connect_timeout() {
    let mut h = Stack::websocket_opened(Setup::v4());
    h.ws_send(WS0, RECONNECT);
    h.seen();
    h.accept_recovered("/", SOCKET, PID, &MISSED);
    h.received();
    h.advance_to(ms(25_000));
    h.ws_send(WS0, "3");
    h.advance_to(ms(46_000));
    assert_eq!(h.seen(), []);
    assert!(!h.session.is_closed());
}

#[test]
fn missed_packets_of_another_namespace_carry_its_name() {
    let mut h = Stack::websocket_opened(Setup::v4());
    h.join("/", "SIOsocketSIOsocket00");
    h.ws_send(WS0, &RECONNECT.replacen("40", "40/chat,", 1));
    assert!(
        matches!(&h.seen()[..], [Seen::Io(Event::Connect { nsp, recovery: Some(_), .. })] if &**nsp == "/chat")
    );
    h.accept_recovered("/chat", SOCKET, PID, &MISSED[..1]);
    assert_eq!(
        h.received(),
        [
            text(WS0, r#"42/chat,["news",1,"MTcwMDAwMDAwMDAwMS0w"]"#),
            text(WS0, r#"40/chat,{"sid":"SIOsocketSIOsocket01","pid":"SIOprivateSIOprivate"}"#),
        ]
    );
}
