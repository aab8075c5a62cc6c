//! Acknowledgements through the whole stack, on the simulated clock. An event the server emits
//! with an ack id and a deadline: answered before the deadline, the application sees `Ack`;
//! not answered, it sees `AckTimeout` at exactly the deadline and a late answer is ignored;
//! an ack still awaited when the transport closes never times out. Deadlines fire in their
//! order, interleaved with the heartbeat's. The client's own acks are answered on its
//! transport.

use crate::harness;

use engineio_parser::CloseReason;
use harness::*;
use socketio_parser::connection::{DisconnectReason, Event};

fn ack(id: u64, data: &str) -> Seen {
    Seen::Io(Event::Ack { nsp: nsp("/"), id, data: json(data) })
}

fn ack_timeout(nsp: &str, id: u64) -> Seen {
    Seen::Io(Event::AckTimeout { nsp: harness::nsp(nsp), id })
}

#[test]
fn an_ack_answered_before_the_deadline_reaches_the_application() {
    for setup in Setup::both() {
        let mut h = Stack::polling_opened(setup);
        h.join("/", "SIOsocketSIOsocket01");
        h.advance_to(ms(1_000));
        h.emit_with_ack("/", r#"["question",1]"#, 0, ms(5_000));
        assert_eq!(h.poll(), [r#"420["question",1]"#]);
        // Answered at the last instant.
        h.advance_to(ms(6_000) - TICK);
        h.post(&[r#"430["answer"]"#]);
        assert_eq!(h.seen(), [ack(0, r#"["answer"]"#)]);
        // Nothing fires at the deadline.
        h.advance_to(ms(6_000));
        assert_eq!(h.seen(), []);
        assert!(h.next_deadline().is_some_and(|next| next > ms(6_000)));
    }
}

#[test]
fn an_unanswered_ack_times_out_at_exactly_the_deadline_and_a_late_answer_is_ignored() {
    for setup in Setup::both() {
        let mut h = Stack::polling_opened(setup);
        h.join("/", "SIOsocketSIOsocket01");
        h.advance_to(ms(1_000));
        h.emit_with_ack("/", r#"["question"]"#, 7, ms(5_000));
        assert_eq!(h.poll(), [r#"427["question"]"#]);
        h.advance_to(ms(6_000) - TICK);
        assert_eq!(h.seen(), []);
        h.advance_to(ms(6_000));
        assert_eq!(h.seen_at(), [(ms(6_000), ack_timeout("/", 7))]);
        // The client answers too late: ignored, and not an error.
        h.advance_to(ms(6_500));
        h.post(&[r#"437["late"]"#]);
        assert_eq!(h.seen(), []);
        assert!(!h.conn.is_closed());
        // The socket works on, acks included.
        h.emit_with_ack("/", r#"["again"]"#, 8, ms(5_000));
        assert_eq!(h.poll(), [r#"428["again"]"#]);
        h.post(&[r#"438["in time"]"#]);
        assert_eq!(h.seen(), [ack(8, r#"["in time"]"#)]);
    }
}

#[test]
fn ack_deadlines_fire_in_order_between_heartbeat_deadlines() {
    let mut h = Stack::websocket_opened(Setup::v4());
    h.join("/", "SIOsocketSIOsocket01");
    h.join("/admin", "SIOsocketSIOsocket02");
    h.emit_with_ack("/", r#"["late"]"#, 1, ms(30_000));
    h.emit_with_ack("/admin", r#"["soon"]"#, 1, ms(20_000));
    // Still awaited when the session dies of its ping timeout at 45 s.
    h.emit_with_ack("/", r#"["never"]"#, 2, ms(50_000));
    assert_eq!(
        h.received(),
        [text(WS0, r#"421["late"]"#), text(WS0, r#"42/admin,1["soon"]"#), text(WS0, r#"422["never"]"#)]
    );
    // One step over every deadline; the client stays silent.
    h.advance_to(ms(60_000));
    assert_eq!(h.received_at(), [(ms(25_000), text(WS0, "2")), (ms(45_000), close(WS0))]);
    assert_eq!(
        h.seen_at(),
        [
            (ms(20_000), ack_timeout("/admin", 1)),
            (ms(30_000), ack_timeout("/", 1)),
            (ms(45_000), Seen::Closed(CloseReason::PingTimeout)),
            (ms(45_000), disconnect("/", DisconnectReason::PingTimeout)),
            (ms(45_000), disconnect("/admin", DisconnectReason::PingTimeout)),
        ],
        "no AckTimeout at 50 s: the ack died with its socket"
    );
    assert_eq!(h.next_deadline(), None);
}

#[test]
fn acks_awaited_in_a_namespace_the_client_leaves_never_time_out() {
    let mut h = Stack::websocket_opened(Setup::v4());
    h.join("/", "SIOsocketSIOsocket01");
    h.join("/admin", "SIOsocketSIOsocket02");
    h.emit_with_ack("/admin", r#"["q"]"#, 0, ms(5_000));
    h.emit_with_ack("/", r#"["q"]"#, 0, ms(10_000));
    h.ws_send(WS0, "41/admin,");
    assert_eq!(h.seen(), [disconnect("/admin", DisconnectReason::ClientNamespaceDisconnect)]);
    h.advance_to(ms(10_000));
    assert_eq!(h.seen_at(), [(ms(10_000), ack_timeout("/", 0))]);
}

#[test]
fn the_clients_ack_is_answered_on_its_transport() {
    for setup in Setup::both() {
        let mut h = Stack::polling_opened(setup);
        h.join("/", "SIOsocketSIOsocket01");
        h.post(&[r#"421["hello"]"#]);
        assert_eq!(
            h.seen(),
            [Seen::Io(Event::Event { nsp: nsp("/"), data: json(r#"["hello"]"#), id: Some(1) })]
        );
        let get = h.get();
        h.ack("/", 1, r#"["hi",2]"#);
        assert_eq!(h.received(), [packets(get, &[r#"431["hi",2]"#])]);
    }
}

/// `expect_ack` asks for ids unique while awaited: once forgotten, an id may be awaited again,
/// and the new ack has its own deadline, even when it is forgotten and awaited again in one turn
/// (two commands in one inbox batch) while the first use's deadline is still in the heap.
#[test]
fn an_id_forgotten_and_awaited_again_keeps_its_own_deadline() {
    let mut h = Stack::websocket_opened(Setup::v4());
    h.join("/", "SIOsocketSIOsocket01");
    h.emit_with_ack("/", r#"["first"]"#, 0, ms(5_000));
    h.advance_to(ms(1_000));
    h.app(|conn, now| {
        conn.forget_ack("/", 0);
        conn.expect_ack(&nsp("/"), 0, Some(now + ms(10_000)));
    });
    h.advance_to(ms(11_000));
    assert_eq!(h.seen_at(), [(ms(11_000), ack_timeout("/", 0))]);
}
