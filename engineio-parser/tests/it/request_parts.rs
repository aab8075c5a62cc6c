//! The parts of a request the endpoint reads (query, headers, `Origin`) and the error answers
//! it gives (codes, messages, JSON bodies, statuses).

use engineio_parser::endpoint::{
    parse_query, percent_decode, polling_headers, ErrorContext, HeaderList, IdPool, Transports, ID_POOL,
};
use engineio_parser::{
    format_id, route, EndpointConfig, ErrorCode, Method, ProtocolVersion, Query, RequestError, RequestInfo,
    Route, Transport,
};

#[test]
fn transports_and_methods_by_name() {
    assert_eq!(Transport::Polling.name(), "polling");
    assert_eq!(Transport::WebSocket.name(), "websocket");
    assert_eq!(Transport::from_name("polling"), Some(Transport::Polling));
    assert_eq!(Transport::from_name("websocket"), Some(Transport::WebSocket));
    assert_eq!(Transport::from_name("Polling"), None);
    let only_ws = Transports { polling: false, websocket: true };
    assert!(!only_ws.contains(Transport::Polling));
    assert!(only_ws.contains(Transport::WebSocket));
    let only_polling = Transports { polling: true, websocket: false };
    assert!(only_polling.contains(Transport::Polling));
    assert!(!only_polling.contains(Transport::WebSocket));
    assert_eq!(Method::from_name("GET"), Method::Get);
    assert_eq!(Method::from_name("POST"), Method::Post);
    assert_eq!(Method::from_name("OPTIONS"), Method::Options);
    assert_eq!(Method::from_name("get"), Method::Other);
}

#[test]
fn query_parameters_are_decoded_and_the_last_wins() {
    let q = Query::parse("EIO=4&transport=web%73ocket&sid=a%2Bb+c&t=1&b64");
    assert_eq!(
        q,
        Query {
            eio: Some("4".into()),
            transport: Some("websocket".into()),
            sid: Some("a+b c".into()),
            b64: true,
        }
    );
    let q = Query::parse("EIO=3&EIO=4&transport");
    assert_eq!(q.eio.as_deref(), Some("4"));
    assert_eq!(q.transport.as_deref(), Some(""));
    assert!(!q.b64);
    assert_eq!(q.sid, None);
}

#[test]
fn percent_escapes_decode_and_broken_ones_stay() {
    assert_eq!(percent_decode("plain"), "plain");
    assert_eq!(percent_decode("a+b"), "a b");
    assert_eq!(percent_decode("%41%62"), "Ab");
    assert_eq!(percent_decode("%aF%Af%0a%7e"), "\u{af}\u{af}\n~".replace('\u{af}', "\u{fffd}"));
    assert_eq!(percent_decode("%2F%2f"), "//");
    assert_eq!(percent_decode("%C3%A9"), "é");
    // Cut off, or not hexadecimal: kept as written.
    assert_eq!(percent_decode("sid=%2"), "sid=%2");
    assert_eq!(percent_decode("%"), "%");
    assert_eq!(percent_decode("%4"), "%4");
    assert_eq!(percent_decode("%zz%4g%g4"), "%zz%4g%g4");
    assert_eq!(percent_decode("%%41"), "%A");
    assert_eq!(percent_decode("x%41"), "xA");
    assert_eq!(
        parse_query("a=1&&b=x%20y+z&c"),
        [("a", "1"), ("b", "x y z"), ("c", "")].map(|(k, v)| (k.to_owned(), v.to_owned()))
    );
    assert_eq!(parse_query(""), []);
}

#[test]
fn header_lists_keep_order_and_leave_out_what_http_forbids() {
    let list = HeaderList::new([
        ("Host", &b"example.com"[..]),
        ("bad:name", b"1"),
        ("x-split", b"a\nb"),
        ("X-A", b"1"),
        ("x-a", b"2"),
        ("empty", b""),
    ]);
    assert_eq!(
        list.pairs().collect::<Vec<_>>(),
        [("Host", &b"example.com"[..]), ("X-A", b"1"), ("x-a", b"2"), ("empty", b"")]
    );
    assert_eq!(list.get("x-a"), Some(&b"1"[..]));
    assert_eq!(list.get("EMPTY"), Some(&b""[..]));
    assert_eq!(list.get("bad"), None);
    assert_eq!(HeaderList::default().pairs().count(), 0);
    let sized = HeaderList::with_len(8, [("a", &b"bc"[..]), ("d", b"")]);
    assert_eq!(sized, HeaderList::new([("a", &b"bc"[..]), ("d", b"")]));
}

#[test]
fn error_codes_messages_and_statuses() {
    let codes = [
        (ErrorCode::UnknownTransport, 0, "Transport unknown", 400),
        (ErrorCode::UnknownSid, 1, "Session ID unknown", 400),
        (ErrorCode::BadHandshakeMethod, 2, "Bad handshake method", 400),
        (ErrorCode::BadRequest, 3, "Bad request", 400),
        (ErrorCode::Forbidden, 4, "Forbidden", 403),
        (ErrorCode::UnsupportedProtocolVersion, 5, "Unsupported protocol version", 400),
    ];
    for (code, number, message, status) in codes {
        assert_eq!(code as u8, number);
        assert_eq!(code.message(), message);
        assert_eq!(code.status(), status);
        let error = RequestError::new(code);
        assert_eq!(error.message(), message);
        assert_eq!(error.status(), status);
        assert_eq!(error.json_body(), format!(r#"{{"code":{number},"message":"{message}"}}"#));
    }
    let contexts = [
        (ErrorContext::TransportMismatch, "TRANSPORT_MISMATCH"),
        (ErrorContext::ProtocolMismatch, "PROTOCOL_MISMATCH"),
        (ErrorContext::TransportHandshakeError, "TRANSPORT_HANDSHAKE_ERROR"),
        (ErrorContext::InvalidOrigin, "INVALID_ORIGIN"),
        (ErrorContext::MiddlewareFailure, "MIDDLEWARE_FAILURE"),
        (ErrorContext::IdGenerationError, "ID_GENERATION_ERROR"),
    ];
    for (context, name) in contexts {
        assert_eq!(context.name(), name);
    }
}

#[test]
fn request_errors_display_and_close_with_policy_violation() {
    let error = RequestError::bad_request(ErrorContext::TransportMismatch);
    assert_eq!(error.to_string(), "Bad request (code 3): TRANSPORT_MISMATCH");
    assert_eq!(RequestError::new(ErrorCode::UnknownSid).to_string(), "Session ID unknown (code 1)");
    let forbidden = RequestError::forbidden(Some("not today".into()));
    assert_eq!(forbidden.message(), "not today");
    assert_eq!(forbidden.to_string(), "not today (code 4)");
    assert_eq!(RequestError::forbidden(None).message(), "Forbidden");
    assert_eq!(error.close_code(), 1008);
}

#[test]
fn json_bodies_escape_quotes_backslashes_and_control_characters() {
    let error = RequestError::forbidden(Some("a\"b\\c\u{1f}d e\u{7f}é\n".into()));
    assert_eq!(error.json_body(), "{\"code\":4,\"message\":\"a\\\"b\\\\c\\u001fd e\u{7f}é\\u000a\"}");
}

fn route_with_origin(origin: &[u8]) -> Result<Route, RequestError> {
    let query = Query::parse("EIO=4&transport=polling");
    route(
        &EndpointConfig::default(),
        &RequestInfo { method: Method::Get, query: &query, websocket_upgrade: false, origin: Some(origin) },
    )
}

#[test]
fn an_origin_may_hold_tabs_visible_ascii_and_obs_text_only() {
    let handshake =
        Ok(Route::Handshake { transport: Transport::Polling, version: ProtocolVersion::V4, base64: false });
    assert_eq!(route_with_origin(b"https://example.com"), handshake);
    assert_eq!(route_with_origin(b"a\tb ~"), handshake);
    assert_eq!(route_with_origin(b"\x80\xff"), handshake);
    assert_eq!(route_with_origin(b""), handshake);
    let invalid = Err(RequestError::bad_request(ErrorContext::InvalidOrigin));
    for bad in [&b"a\x7fb"[..], b"a\x1fb", b"\x00", b"a\nb"] {
        assert_eq!(route_with_origin(bad), invalid, "{bad:?}");
    }
}

#[test]
fn a_request_with_a_sid_skips_the_handshake_checks() {
    let query = Query::parse("EIO=3&transport=websocket&sid=abc");
    let info = RequestInfo { method: Method::Post, query: &query, websocket_upgrade: false, origin: None };
    assert_eq!(
        route(&EndpointConfig::default(), &info),
        Ok(Route::Session {
            sid: "abc".into(),
            transport: Transport::WebSocket,
            version: ProtocolVersion::V3
        })
    );
    // But not the transport check.
    let config = EndpointConfig {
        transports: Transports { polling: true, websocket: false },
        ..EndpointConfig::default()
    };
    assert_eq!(route(&config, &info), Err(RequestError::new(ErrorCode::UnknownTransport)));
}

#[test]
fn a_polling_handshake_needs_no_upgrade_and_v4_needs_no_permission() {
    let query = Query::parse("EIO=4&transport=polling");
    let info = RequestInfo { method: Method::Get, query: &query, websocket_upgrade: true, origin: None };
    assert!(matches!(route(&EndpointConfig::default(), &info), Ok(Route::Handshake { .. })));
}

#[test]
fn session_ids_are_base64url_without_padding() {
    assert_eq!(format_id(&[0; 15]), "AAAAAAAAAAAAAAAAAAAA");
    assert_eq!(format_id(&[0xfb; 15]), "-_v7-_v7-_v7-_v7-_v7");
}

#[test]
fn an_id_pool_refills_only_when_used_up() {
    let mut pool = IdPool::default();
    let mut refills = 0;
    for _ in 0..ID_POOL {
        pool.next_id(|bytes| {
            refills += 1;
            bytes.fill(1);
            true
        })
        .expect("random bytes");
    }
    assert_eq!(refills, 1);
    assert_eq!(pool.next_id(|_| false), None);
}

#[test]
fn polling_responses_carry_no_store_and_old_ie_gets_no_xss_filter() {
    let base = [("Cache-Control", "no-store")];
    let with_xss = [("Cache-Control", "no-store"), ("X-XSS-Protection", "0")];
    assert_eq!(polling_headers(None).collect::<Vec<_>>(), base);
    assert_eq!(polling_headers(Some(b"Mozilla/5.0 (X11; Linux)")).collect::<Vec<_>>(), base);
    assert_eq!(polling_headers(Some(b"Mozilla/4.0 (compatible;MSIE 8.0)")).collect::<Vec<_>>(), with_xss);
    assert_eq!(polling_headers(Some(b"Mozilla/5.0 (Trident/7.0; rv:11.0)")).collect::<Vec<_>>(), with_xss);
}
