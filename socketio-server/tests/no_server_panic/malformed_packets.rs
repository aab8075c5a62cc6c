//! Malformed Socket.IO input on an established connection, spoken raw over 127.0.0.1
//! (protocol-facts §4.4, the reference's observed behaviour after `40`).
//!
//! Pins:
//! * every input of the "Closed" list of §4.4, sent over WebSocket after the client joined `/`,
//!   closes that connection and only it: its socket leaves with `forced close`; for a decode
//!   error its `on_error` handler first receives exactly one `SocketError::Decode` (the exact
//!   `DecodeError` is pinned), for an invalid state (second `CONNECT`, a client
//!   `CONNECT_ERROR`, a namespace not joined) it hears nothing; no event reaches a handler; a
//!   second client connected all along still gets its acks afterwards; the server never panics;
//! * over long-polling (a representative subset) the same, with the reason `forced server close`
//!   for invalid states and `forced close` for decode errors, and the closed session's next
//!   poll ends it;
//! * the "Accepted" list of §4.4: `42["hello"]`; `42[1,"numeric event"]` runs the handler
//!   registered for `"1"`; `42["error","x"]` reaches `on("error")` (and not `on_error`);
//!   `43["ack without id"]` and acks nobody awaits are ignored; Engine.IO `6` and `5` on an
//!   established WebSocket are ignored; Engine.IO `2` from a v4 client is a `transport error`
//!   and `7` a `parse error`;
//! * ack ids: the reference reads `4299999999999999999999["x"]` as a JavaScript float and
//!   accepts it; our decoder keeps ack ids in a `u64`: `18446744073709551615` (u64::MAX) is
//!   accepted and answered, one more (or 22 digits) is a clean decode error (`InvalidAckId`):
//!   the connection closes with `forced close` like any other invalid packet, nothing else is
//!   affected.

use crate::raw;

use raw::{binary, text, Incoming, Out, PollClient, RawServer, Setup, WsClient};
use socketio_parser::DecodeError;
use socketio_server::DisconnectReason;

/// What an input must do to the connection.
enum Expect {
    /// A decode error: `on_error` hears it, then `forced close`.
    Decode(fn(&DecodeError) -> bool),
    /// An invalid state: no `on_error`, the connection is closed by the server.
    InvalidState,
}

/// Sends `outs` on a WebSocket client that joined `/`, and checks that only it is closed, as
/// `expect` says, while another WebSocket client keeps working.
async fn ws_closes_only_that_connection(outs: &[Out], expect: Expect) {
    let mut server = RawServer::default_setup().await;
    let (mut healthy, healthy_id) = WsClient::connected(server.addr).await;
    server.connected(&healthy_id).await;
    let (mut bad, bad_id) = WsClient::connected(server.addr).await;
    server.connected(&bad_id).await;
    healthy.roundtrip(1).await;

    bad.send_all(outs).await;
    bad.expect_closed().await;
    assert_eq!(server.disconnect_reason(&bad_id).await, DisconnectReason::ForcedClose, "{outs:?}");
    match expect {
        Expect::Decode(matches) => server.assert_decode_error(&bad_id, matches),
        Expect::InvalidState => {
            let errors = server.errors_of(&bad_id);
            assert!(errors.is_empty(), "an invalid state is not a decode error: {errors:?}");
        }
    }
    assert_eq!(server.events_of(&bad_id), Vec::<String>::new(), "no event of {outs:?} reached a handler");

    healthy.roundtrip(2).await;
    assert!(!server.has_left(&healthy_id), "the other client was disconnected");
    server.assert_alive();
}

macro_rules! ws_closed {
    ($($(#[$attr:meta])* $name:ident: [$($out:expr),* $(,)?] => $expect:expr;)*) => {
        $(
            $(#[$attr])*
            #[tokio::test]
            async fn $name() {
                ws_closes_only_that_connection(&[$($out),*], $expect).await;
            }
        )*
    };
}

fn decode(matches: fn(&DecodeError) -> bool) -> Expect {
    Expect::Decode(matches)
}

ws_closed! {
    ws_reserved_event_disconnect: [text(r#"42["disconnect"]"#)]
        => decode(|e| matches!(e, DecodeError::ReservedEventName));
    ws_reserved_event_connect: [text(r#"42["connect"]"#)]
        => decode(|e| matches!(e, DecodeError::ReservedEventName));
    ws_object_event_name: [text(r#"42[{"toString":"foo"}]"#)]
        => decode(|e| matches!(e, DecodeError::InvalidEventName));
    ws_boolean_event_name: [text(r#"42[true,"foo"]"#)]
        => decode(|e| matches!(e, DecodeError::InvalidEventName));
    ws_null_event_name: [text(r#"42[null,"bar"]"#)]
        => decode(|e| matches!(e, DecodeError::InvalidEventName));
    ws_object_event_payload: [text("42{}")]
        => decode(|e| matches!(e, DecodeError::InvalidEventPayload));
    ws_empty_event_array: [text("42[]")]
        => decode(|e| matches!(e, DecodeError::InvalidEventName));
    ws_string_event_payload: [text(r#"42"str""#)]
        => decode(|e| matches!(e, DecodeError::InvalidEventPayload));
    ws_garbage_before_the_payload: [text(r#"42abc["x"]"#)]
        => decode(|e| matches!(e, DecodeError::InvalidJson(_)));
    ws_negative_ack_id: [text(r#"42-1["x"]"#)]
        => decode(|e| matches!(e, DecodeError::InvalidJson(_)));
    ws_ack_with_an_object_payload: [text(r#"4310{"not":"array"}"#)]
        => decode(|e| matches!(e, DecodeError::InvalidAckPayload));
    ws_disconnect_with_a_payload: [text(r#"41{"payload":1}"#)]
        => decode(|e| matches!(e, DecodeError::UnexpectedDisconnectPayload));
    ws_unknown_packet_type_digit: [text("49")]
        => decode(|e| matches!(e, DecodeError::UnknownType(b'9')));
    ws_unknown_packet_type_letter: [text("4abc")]
        => decode(|e| matches!(e, DecodeError::UnknownType(b'a')));
    ws_empty_message: [text("4")]
        => decode(|e| matches!(e, DecodeError::Empty));
    ws_second_connect: [text("40")] => Expect::InvalidState;
    ws_connect_error_from_the_client: [text(r#"44{"message":"x"}"#)] => Expect::InvalidState;
    ws_placeholder_num_not_a_number: [
        text(r#"451-["hello",{"_placeholder":true,"num":"splice"}]"#),
        binary(&[1, 2, 3]),
    ] => decode(|e| matches!(e, DecodeError::InvalidPlaceholder));
    ws_placeholder_num_out_of_range: [
        text(r#"451-["hello",{"_placeholder":true,"num":10}]"#),
        binary(&[1, 2, 3]),
    ] => decode(|e| matches!(e, DecodeError::InvalidPlaceholder));
    ws_zero_attachments: [text(r#"450-["hello"]"#)]
        => decode(|e| matches!(e, DecodeError::InvalidAttachments));
    ws_eleven_attachments: [text(r#"4511-["hello",{"_placeholder":true,"num":0}]"#)]
        => decode(|e| matches!(e, DecodeError::TooManyAttachments { count: 11, max: 10 }));
    ws_attachments_past_the_binary_packet_size: [
        text(r#"453-["up",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1},{"_placeholder":true,"num":2}]"#),
        binary(&vec![7; 600_000]),
        binary(&vec![8; 600_000]),
    ] => decode(|e| matches!(e, DecodeError::BinaryPacketTooLarge { max: 1_000_000 }));
    ws_letter_attachment_count: [text(r#"45a-["hello",{"_placeholder":true,"num":0}]"#)]
        => decode(|e| matches!(e, DecodeError::InvalidAttachments));
    ws_text_while_attachments_are_pending: [
        text(r#"451-["hello",{"_placeholder":true,"num":0}]"#),
        text(r#"42["hello"]"#),
    ] => decode(|e| matches!(e, DecodeError::UnexpectedText));
    ws_binary_frame_without_a_header: [binary(&[1, 2, 3])]
        => decode(|e| matches!(e, DecodeError::UnexpectedBinary));
    ws_base64_binary_without_a_header: [text("bAQID")]
        => decode(|e| matches!(e, DecodeError::UnexpectedBinary));
    ws_namespace_not_joined: [text(r#"42/nonexistent,["x"]"#)] => Expect::InvalidState;
    ws_namespace_without_a_comma: [text(r#"42/admin["x"]"#)]
        => decode(|e| matches!(e, DecodeError::InvalidEventPayload));
    ws_connect_with_an_array: [text("40[1]")]
        => decode(|e| matches!(e, DecodeError::InvalidConnectPayload));
    ws_connect_with_a_string: [text(r#"40"str""#)]
        => decode(|e| matches!(e, DecodeError::InvalidConnectPayload));
    ws_huge_ack_id: [text(r#"4299999999999999999999["x"]"#)]
        => decode(|e| matches!(e, DecodeError::InvalidAckId));
    ws_ack_id_one_past_u64_max: [text(r#"4218446744073709551616["x"]"#)]
        => decode(|e| matches!(e, DecodeError::InvalidAckId));
}

ws_closed! {
    /// `b4AQID` of §4.4 as the reference treats it: in Engine.IO v4 a `b` text frame is base64
    /// binary; Node's `Buffer.from("4AQID", "base64")` drops the lone trailing character and
    /// gives `e0 04 08`, which reaches Socket.IO as binary outside a binary packet.
    ws_b4aqid_is_binary_without_a_header: [text("b4AQID")]
        => decode(|e| matches!(e, DecodeError::UnexpectedBinary));
}

/// `b4AQID` closes only that connection, whatever the layer that refuses it: today our
/// Engine.IO parser refuses `4AQID` as base64 (5 characters), an Engine.IO `parse error`
/// (see the ignored test above for the reference's `forced close`).
#[tokio::test]
async fn ws_b4aqid_closes_only_that_connection() {
    let mut server = RawServer::default_setup().await;
    let (mut healthy, healthy_id) = WsClient::connected(server.addr).await;
    let (mut bad, bad_id) = WsClient::connected(server.addr).await;
    server.connected(&bad_id).await;
    bad.send_text("b4AQID").await;
    bad.expect_closed().await;
    let reason = server.disconnect_reason(&bad_id).await;
    assert!(
        matches!(reason, DisconnectReason::ParseError | DisconnectReason::ForcedClose),
        "unexpected reason {reason:?}"
    );
    assert!(server.events_of(&bad_id).is_empty());
    healthy.roundtrip(1).await;
    assert!(!server.has_left(&healthy_id));
    server.assert_alive();
}

// -------------------------------------------------------------------------------------------
// Long-polling

/// Sends `body` (one POST) on a polling client that joined `/`, and checks that only it is
/// closed, with `reason`, while a polling and a WebSocket client keep working.
async fn polling_closes_only_that_session(body: &str, expect: Expect, reason: DisconnectReason) {
    let mut server = RawServer::default_setup().await;
    let healthy = PollClient::open(server.addr).await;
    let healthy_id = healthy.connect("/").await;
    let (mut healthy_ws, healthy_ws_id) = WsClient::connected(server.addr).await;
    let bad = PollClient::open(server.addr).await;
    let bad_id = bad.connect("/").await;
    server.connected(&bad_id).await;

    let response = bad.post_raw(body.as_bytes()).await;
    assert_eq!(response.status, 200, "the POST itself is well-formed: {response:?}");
    assert_eq!(server.disconnect_reason(&bad_id).await, reason, "{body:?}");
    match expect {
        Expect::Decode(matches) => server.assert_decode_error(&bad_id, matches),
        Expect::InvalidState => assert!(server.errors_of(&bad_id).is_empty()),
    }
    assert!(server.events_of(&bad_id).is_empty(), "no event of {body:?} reached a handler");
    // The session's next poll learns that it is over.
    bad.expect_closed().await;

    healthy.roundtrip(1).await;
    healthy_ws.roundtrip(2).await;
    assert!(!server.has_left(&healthy_id) && !server.has_left(&healthy_ws_id));
    server.assert_alive();
}

#[tokio::test]
async fn polling_reserved_event_name() {
    polling_closes_only_that_session(
        r#"42["disconnect"]"#,
        decode(|e| matches!(e, DecodeError::ReservedEventName)),
        DisconnectReason::ForcedClose,
    )
    .await;
}

#[tokio::test]
async fn polling_boolean_event_name() {
    polling_closes_only_that_session(
        r#"42[true,"foo"]"#,
        decode(|e| matches!(e, DecodeError::InvalidEventName)),
        DisconnectReason::ForcedClose,
    )
    .await;
}

#[tokio::test]
async fn polling_unknown_packet_type() {
    polling_closes_only_that_session(
        "4abc",
        decode(|e| matches!(e, DecodeError::UnknownType(b'a'))),
        DisconnectReason::ForcedClose,
    )
    .await;
}

#[tokio::test]
async fn polling_placeholder_num_not_a_number() {
    polling_closes_only_that_session(
        "451-[\"hello\",{\"_placeholder\":true,\"num\":\"splice\"}]\x1ebAQID",
        decode(|e| matches!(e, DecodeError::InvalidPlaceholder)),
        DisconnectReason::ForcedClose,
    )
    .await;
}

#[tokio::test]
async fn polling_binary_without_a_header() {
    polling_closes_only_that_session(
        "bAQID",
        decode(|e| matches!(e, DecodeError::UnexpectedBinary)),
        DisconnectReason::ForcedClose,
    )
    .await;
}

#[tokio::test]
async fn polling_text_while_attachments_are_pending() {
    polling_closes_only_that_session(
        "451-[\"hello\",{\"_placeholder\":true,\"num\":0}]\x1e42[\"hello\"]",
        decode(|e| matches!(e, DecodeError::UnexpectedText)),
        DisconnectReason::ForcedClose,
    )
    .await;
}

#[tokio::test]
async fn polling_namespace_not_joined() {
    polling_closes_only_that_session(
        r#"42/nonexistent,["x"]"#,
        Expect::InvalidState,
        DisconnectReason::ForcedServerClose,
    )
    .await;
}

#[tokio::test]
async fn polling_second_connect() {
    polling_closes_only_that_session("40", Expect::InvalidState, DisconnectReason::ForcedServerClose).await;
}

#[tokio::test]
async fn polling_connect_error_from_the_client() {
    polling_closes_only_that_session(
        r#"44{"message":"x"}"#,
        Expect::InvalidState,
        DisconnectReason::ForcedServerClose,
    )
    .await;
}

// -------------------------------------------------------------------------------------------
// Accepted input

/// Sends `outs` on a WebSocket client that joined `/`, then checks that the connection is still
/// in use (an ack round trip after them: packets of one connection are handled in order), that
/// the socket did not leave and that `on_error` heard nothing. Returns the server and socket id.
async fn ws_accepted(outs: &[Out]) -> (RawServer, String) {
    let mut server = RawServer::default_setup().await;
    let (mut client, id) = WsClient::connected(server.addr).await;
    server.connected(&id).await;
    client.send_all(outs).await;
    client.roundtrip(7).await;
    assert!(!server.has_left(&id), "{outs:?} disconnected the socket");
    assert!(server.errors_of(&id).is_empty(), "{outs:?}: {:?}", server.errors_of(&id));
    server.assert_alive();
    (server, id)
}

#[tokio::test]
async fn accepted_plain_event() {
    let (mut server, id) = ws_accepted(&[text(r#"42["hello"]"#)]).await;
    let (args, ack) = server.handled(&id, "hello").await;
    assert!(args.is_empty() && ack.is_none(), "{args:?} {ack:?}");
}

#[tokio::test]
async fn accepted_numeric_event_name() {
    let (mut server, id) = ws_accepted(&[text(r#"42[1,"numeric event"]"#)]).await;
    let (args, _) = server.handled(&id, "1").await;
    assert_eq!(args, vec![socketio_server::Value::from("numeric event")]);
}

#[tokio::test]
async fn accepted_event_named_error_goes_to_the_error_event_handlers() {
    let (mut server, id) = ws_accepted(&[text(r#"42["error","x"]"#)]).await;
    let (args, _) = server.handled(&id, "error").await;
    assert_eq!(args, vec![socketio_server::Value::from("x")]);
    // It is an event like any other: `on_error` (server-side errors) hears nothing of it.
    assert!(server.errors_of(&id).is_empty());
}

#[tokio::test]
async fn accepted_ack_id_u64_max_is_answered() {
    let mut server = RawServer::default_setup().await;
    let (mut client, id) = WsClient::connected(server.addr).await;
    client.send_text(r#"4218446744073709551615["x"]"#).await;
    let answer = client.expect("43").await;
    assert_eq!(answer, r#"4318446744073709551615["ok"]"#);
    let (_, ack) = server.handled(&id, "x").await;
    assert_eq!(ack, Some(u64::MAX));
    client.roundtrip(1).await;
    server.assert_alive();
}

#[tokio::test]
async fn accepted_acks_nobody_awaits_are_ignored() {
    let (mut server, id) =
        ws_accepted(&[text(r#"43["ack without id"]"#), text(r#"4377["nobody asked"]"#), text("43")]).await;
    assert_eq!(server.events_of(&id), vec!["ping"], "acks are not events");
}

#[tokio::test]
async fn accepted_engine_noop_and_upgrade_on_an_open_websocket_are_ignored() {
    let (mut server, id) = ws_accepted(&[text("6"), text("5"), text("6"), text(r#"42["hello"]"#)]).await;
    server.handled(&id, "hello").await;
}

/// Over WebSocket and with the default setup, the client is closed and its socket leaves with
/// `reason`; `on_error` hears nothing (this is below Socket.IO); another client keeps working.
async fn engine_packet_closes(packet: &str, reason: DisconnectReason) {
    let mut server = RawServer::default_setup().await;
    let (mut healthy, healthy_id) = WsClient::connected(server.addr).await;
    let (mut bad, bad_id) = WsClient::connected(server.addr).await;
    server.connected(&bad_id).await;
    bad.send_text(packet).await;
    assert!(matches!(bad.recv().await, Incoming::Closed(_)), "{packet:?} closes; skipped {:?}", bad.skipped);
    assert_eq!(server.disconnect_reason(&bad_id).await, reason);
    assert!(server.errors_of(&bad_id).is_empty());
    healthy.roundtrip(1).await;
    assert!(!server.has_left(&healthy_id));
    server.assert_alive();
}

#[tokio::test]
async fn engine_ping_from_a_v4_client_is_a_transport_error() {
    engine_packet_closes("2", DisconnectReason::TransportError).await;
}

#[tokio::test]
async fn engine_unknown_packet_type_is_a_parse_error() {
    engine_packet_closes("7", DisconnectReason::ParseError).await;
}

/// The same decode error closes every namespace of the connection, each socket hearing of it.
#[tokio::test]
async fn a_decode_error_reaches_every_namespace_of_the_connection() {
    let mut server = RawServer::start(Setup { namespaces: vec!["/admin"], ..Setup::default() }).await;
    let (mut healthy, _) = WsClient::connected(server.addr).await;
    let (mut bad, main_id) = WsClient::connected(server.addr).await;
    let admin_id = bad.connect("/admin").await;
    server.connected(&admin_id).await;
    bad.send_text(r#"42/admin,["connect"]"#).await;
    bad.expect_closed().await;
    for id in [&main_id, &admin_id] {
        assert_eq!(server.disconnect_reason(id).await, DisconnectReason::ForcedClose);
        server.assert_decode_error(id, |e| matches!(e, DecodeError::ReservedEventName));
    }
    healthy.roundtrip(1).await;
    server.assert_alive();
}
