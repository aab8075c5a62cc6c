//! The endpoint's answers to requests before they reach a session (protocol-facts §1.6).

use engineio_parser::endpoint::{ErrorContext, Transports};
use engineio_parser::{
    route, EndpointConfig, ErrorCode, Method, ProtocolVersion, Query, RequestError, RequestInfo, Route,
    Transport,
};

fn check(
    config: &EndpointConfig,
    method: &str,
    query: &str,
    upgrade: bool,
    origin: Option<&[u8]>,
) -> Result<Route, RequestError> {
    let query = Query::parse(query);
    route(
        config,
        &RequestInfo { method: Method::from_name(method), query: &query, websocket_upgrade: upgrade, origin },
    )
}

fn code(r: Result<Route, RequestError>) -> (u8, u16, Option<ErrorContext>) {
    let e = r.expect_err("refused");
    (e.code as u8, e.status(), e.context)
}

#[test]
fn handshakes() {
    let c = EndpointConfig::default();
    assert_eq!(
        check(&c, "GET", "EIO=4&transport=polling&t=N8hyd6w", false, None),
        Ok(Route::Handshake { transport: Transport::Polling, version: ProtocolVersion::V4, base64: false })
    );
    assert_eq!(
        check(&c, "GET", "EIO=4&transport=websocket", true, None),
        Ok(Route::Handshake { transport: Transport::WebSocket, version: ProtocolVersion::V4, base64: false })
    );
    assert!(matches!(
        check(&c, "GET", "EIO=4&transport=polling&b64=1", false, None),
        Ok(Route::Handshake { base64: true, .. })
    ));
}

#[test]
fn error_codes_and_statuses() {
    let c = EndpointConfig::default();
    assert_eq!(code(check(&c, "GET", "EIO=4", false, None)), (0, 400, None));
    assert_eq!(code(check(&c, "GET", "EIO=4&transport=tobi", false, None)), (0, 400, None));
    assert_eq!(code(check(&c, "GET", "EIO=4&transport=__proto__", true, None)), (0, 400, None));
    assert_eq!(code(check(&c, "GET", "EIO=4&transport=webtransport", false, None)), (0, 400, None));
    assert_eq!(code(check(&c, "POST", "EIO=4&transport=polling", false, None)), (2, 400, None));
    assert_eq!(code(check(&c, "PUT", "EIO=4&transport=polling", false, None)), (2, 400, None));
    assert_eq!(
        code(check(&c, "GET", "EIO=4&transport=websocket", false, None)),
        (3, 400, Some(ErrorContext::TransportHandshakeError))
    );
    assert_eq!(
        code(check(&c, "GET", "EIO=4&transport=polling", false, Some(b"http://a\x01b"))),
        (3, 400, Some(ErrorContext::InvalidOrigin))
    );
    for eio in ["EIO=3&", "EIO=5&", "EIO=abc&", ""] {
        assert_eq!(
            code(check(&c, "GET", &format!("{eio}transport=polling"), false, None)),
            (5, 400, None),
            "{eio}"
        );
    }
    assert_eq!(RequestError::forbidden(Some("nope".into())).status(), 403);
    assert_eq!(
        RequestError::new(ErrorCode::UnknownSid).json_body(),
        r#"{"code":1,"message":"Session ID unknown"}"#
    );
    assert_eq!(
        RequestError::forbidden(Some("no \"way\"".into())).json_body(),
        r#"{"code":4,"message":"no \"way\""}"#
    );
}

#[test]
fn v3_is_accepted_only_when_allowed() {
    let c = EndpointConfig { allow_eio3: true, ..EndpointConfig::default() };
    assert!(matches!(
        check(&c, "GET", "EIO=3&transport=polling", false, None),
        Ok(Route::Handshake { version: ProtocolVersion::V3, .. })
    ));
    // Anything but exactly "4" is v3, as in the reference.
    assert!(matches!(
        check(&c, "GET", "transport=polling", false, None),
        Ok(Route::Handshake { version: ProtocolVersion::V3, .. })
    ));
}

#[test]
fn disabled_transports_are_unknown() {
    let c = EndpointConfig {
        transports: Transports { polling: false, websocket: true },
        ..EndpointConfig::default()
    };
    assert_eq!(code(check(&c, "GET", "EIO=4&transport=polling", false, None)), (0, 400, None));
}

#[test]
fn requests_with_a_sid_go_to_their_session() {
    let c = EndpointConfig::default();
    assert_eq!(
        check(&c, "POST", "EIO=4&transport=polling&sid=abc%2Fd", false, None),
        Ok(Route::Session {
            sid: "abc/d".into(),
            transport: Transport::Polling,
            version: ProtocolVersion::V4
        })
    );
    // The last duplicate wins, as with URLSearchParams.
    assert!(matches!(
        check(&c, "GET", "EIO=4&transport=polling&sid=a&sid=b", false, None),
        Ok(Route::Session { sid, .. }) if sid == "b"
    ));
}

#[test]
fn sessions_check_protocol_and_transport() {
    use engineio_parser::{Initial, RequestId, Session, SessionConfig};
    let s = Session::new(
        "x",
        ProtocolVersion::V4,
        false,
        SessionConfig::default(),
        Initial::Polling(RequestId(0)),
        std::time::Instant::now(),
    );
    assert_eq!(s.check_request(Transport::Polling, ProtocolVersion::V4, false), Ok(()));
    assert_eq!(s.check_request(Transport::WebSocket, ProtocolVersion::V4, true), Ok(()));
    assert_eq!(
        s.check_request(Transport::Polling, ProtocolVersion::V3, false),
        Err(RequestError::bad_request(ErrorContext::ProtocolMismatch))
    );
    assert_eq!(
        s.check_request(Transport::WebSocket, ProtocolVersion::V4, false),
        Err(RequestError::bad_request(ErrorContext::TransportMismatch))
    );
}
