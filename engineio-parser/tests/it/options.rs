//! The settings a session refuses before it runs, each named with what would work.

use std::time::Duration;

use engineio_parser::endpoint::Transports;
use engineio_parser::forwarded::{ForwardedHeader, TrustProxy};
use engineio_parser::http::{Cookie, Cors, CorsOrigin, OriginPattern, OriginPredicate};
use engineio_parser::options::{check_path, Checker, JS_TIMER_MAX};
use engineio_parser::SessionConfig;

/// The options `check` refuses, in order.
fn refused(check: impl FnOnce(&mut Checker)) -> Vec<String> {
    let mut checker = Checker::new();
    check(&mut checker);
    match checker.finish() {
        Ok(()) => Vec::new(),
        Err(error) => error.problems().iter().map(|p| p.option.clone()).collect(),
    }
}

fn session(config: SessionConfig) -> Vec<String> {
    refused(|c| config.check(c))
}

#[test]
fn the_defaults_are_valid() {
    assert_eq!(SessionConfig::default().validate(), Ok(()));
    assert_eq!(refused(|c| Cors::default().check(c)), Vec::<String>::new());
    assert_eq!(refused(|c| Cookie::default().check(c)), Vec::<String>::new());
}

#[test]
fn heartbeat_values_need_a_millisecond_and_must_fit_a_javascript_timer() {
    let ms = Duration::from_millis(1);
    let zero = SessionConfig {
        ping_interval: Duration::ZERO,
        ping_timeout: Duration::from_micros(999),
        ..Default::default()
    };
    assert_eq!(session(zero), ["ping_interval", "ping_timeout"]);
    assert_eq!(
        session(SessionConfig { ping_interval: ms, ping_timeout: ms, ..Default::default() }),
        Vec::<String>::new()
    );
    // The client's timer holds 2^31 - 1 ms: the sum may reach it, not pass it.
    let at_most = SessionConfig { ping_interval: JS_TIMER_MAX - ms, ping_timeout: ms, ..Default::default() };
    assert_eq!(session(at_most), Vec::<String>::new());
    let over = SessionConfig { ping_interval: JS_TIMER_MAX, ping_timeout: ms, ..Default::default() };
    assert_eq!(session(over), ["ping_timeout"]);
    let error = over.validate().expect_err("too long");
    assert_eq!(
        error.to_string(),
        "invalid configuration: `ping_timeout` is 1ms, but with ping_interval (2147483.647s) it is more than \
         a JavaScript client can time (2147483647 ms): its timer would fire at once and drop the connection"
    );
    // No overflow on the largest durations.
    let huge =
        SessionConfig { ping_interval: Duration::MAX, ping_timeout: Duration::MAX, ..Default::default() };
    assert_eq!(session(huge), ["ping_timeout"]);
}

#[test]
fn other_times_limits_and_transports() {
    let config = SessionConfig {
        upgrade_timeout: Duration::ZERO,
        close_timeout: Duration::from_millis(1),
        shutdown_timeout: Duration::from_millis(2),
        max_payload: 0,
        max_buffered: 0,
        transports: Transports { polling: false, websocket: false },
        ..Default::default()
    };
    assert_eq!(
        session(config),
        ["upgrade_timeout", "shutdown_timeout", "max_payload", "max_buffered", "transports"]
    );
    let error = config.validate().expect_err("five problems");
    assert_eq!(
        error.problems()[1].problem,
        "is 2ms, longer than close_timeout (1ms), which bounds it: a shutdown would wait only 1ms"
    );
    assert_eq!(error.problems()[2].problem, "is 0, but no request body or WebSocket message could be read");
    // The boundaries: equal timeouts, a zero shutdown, one byte, one transport.
    let edge = SessionConfig {
        close_timeout: Duration::from_millis(2),
        shutdown_timeout: Duration::from_millis(2),
        max_payload: 1,
        max_buffered: 1,
        transports: Transports { polling: false, websocket: true },
        ..Default::default()
    };
    assert_eq!(session(edge), Vec::<String>::new());
    let no_wait = SessionConfig { shutdown_timeout: Duration::ZERO, ..Default::default() };
    assert_eq!(session(no_wait), Vec::<String>::new());
    let polling =
        SessionConfig { transports: Transports { polling: true, websocket: false }, ..Default::default() };
    assert_eq!(session(polling), Vec::<String>::new());
}

#[test]
fn paths_start_with_a_slash_and_hold_no_query() {
    let path = |p: &str| refused(|c| check_path(c, "path", p));
    assert_eq!(path("/socket.io"), Vec::<String>::new());
    assert_eq!(path("/"), Vec::<String>::new());
    for bad in ["socket.io", "", "/a?b", "/a#b", "/a b", "/a\tb"] {
        assert_eq!(path(bad), ["path"], "{bad:?}");
    }
    let mut checker = Checker::new();
    check_path(&mut checker, "path", "socket.io");
    assert_eq!(
        checker.finish().expect_err("no slash").to_string(),
        "invalid configuration: `path` is \"socket.io\", but a request path starts with `/` (as in \"/socket.io\")"
    );
}

#[test]
fn cors_refuses_credentials_for_any_origin_and_empty_lists() {
    let cors = |cors: Cors| refused(|c| cors.check(c));
    assert_eq!(cors(Cors { credentials: true, ..Cors::default() }), ["credentials"]);
    assert_eq!(cors(Cors { credentials: false, ..Cors::default() }), Vec::<String>::new());
    let listed = CorsOrigin::List(vec!["https://example.com".to_owned()]);
    assert_eq!(cors(Cors { origin: listed, credentials: true, ..Cors::default() }), Vec::<String>::new());
    let everyone = CorsOrigin::Predicate(OriginPredicate::new(|_| true));
    assert_eq!(cors(Cors { origin: everyone, credentials: true, ..Cors::default() }), Vec::<String>::new());
    assert_eq!(cors(Cors { origin: CorsOrigin::List(Vec::new()), ..Cors::default() }), ["origin"]);
    assert_eq!(cors(Cors { origin: CorsOrigin::Patterns(Vec::new()), ..Cors::default() }), ["origin"]);
    let pattern = OriginPattern::new("https://*.example.com").expect("a pattern");
    assert_eq!(
        cors(Cors { origin: CorsOrigin::Patterns(vec![pattern]), ..Cors::default() }),
        Vec::<String>::new()
    );
    assert_eq!(cors(Cors { methods: Vec::new(), ..Cors::default() }), ["methods"]);
}

#[test]
fn cookies_a_browser_would_refuse() {
    let cookie = |cookie: Cookie| refused(|c| cookie.check(c));
    assert_eq!(cookie(Cookie { name: String::new(), ..Cookie::default() }), ["name"]);
    assert_eq!(cookie(Cookie { name: "a b".into(), ..Cookie::default() }), ["name"]);
    assert_eq!(cookie(Cookie { name: "io=".into(), ..Cookie::default() }), ["name"]);
    assert_eq!(cookie(Cookie { name: "io_1.x~".into(), ..Cookie::default() }), Vec::<String>::new());
    assert_eq!(cookie(Cookie { domain: Some("-bad.com".into()), ..Cookie::default() }), ["domain"]);
    assert_eq!(
        cookie(Cookie { domain: Some(".example.com".into()), ..Cookie::default() }),
        Vec::<String>::new()
    );
    assert_eq!(cookie(Cookie { path: "/a;b".into(), ..Cookie::default() }), ["path"]);
    assert_eq!(cookie(Cookie { path: String::new(), ..Cookie::default() }), Vec::<String>::new());
    assert_eq!(cookie(Cookie { same_site: Some("Sometimes".into()), ..Cookie::default() }), ["same_site"]);
    assert_eq!(cookie(Cookie { same_site: Some("none".into()), ..Cookie::default() }), ["same_site"]);
    assert_eq!(
        cookie(Cookie { same_site: Some("None".into()), secure: true, ..Cookie::default() }),
        Vec::<String>::new()
    );
    assert_eq!(
        cookie(Cookie { same_site: Some("strict".into()), ..Cookie::default() }),
        Vec::<String>::new()
    );
    assert_eq!(cookie(Cookie { same_site: None, ..Cookie::default() }), Vec::<String>::new());
}

#[test]
fn nested_options_are_named_with_their_prefix_and_every_problem_is_listed() {
    let mut checker = Checker::new();
    checker.nonzero("outer", 0, "nothing fits");
    checker.nested("engine", |c| {
        c.nested("cors", |c| c.refuse("credentials", "is wrong"));
        c.at_least_1ms("ping_interval", Duration::ZERO, "the heartbeat");
    });
    checker.at_least_1ms("after", Duration::from_millis(1), "x");
    checker.refuse("last", "is wrong too");
    let error = checker.finish().expect_err("four problems");
    let names: Vec<&str> = error.problems().iter().map(|p| p.option.as_str()).collect();
    assert_eq!(names, ["outer", "engine.cors.credentials", "engine.ping_interval", "last"]);
    assert_eq!(
        error.to_string(),
        "invalid configuration: `outer` is 0, but nothing fits; `engine.cors.credentials` is wrong; \
         `engine.ping_interval` is 0ns, but the heartbeat needs at least 1 ms; `last` is wrong too"
    );
}

#[test]
fn a_proxy_trust_list_trusts_someone() {
    let trust = |proxies: &[&str]| {
        let proxies = proxies.iter().map(|p| p.parse().expect("an address or range")).collect();
        let trust = TrustProxy { proxies, header: ForwardedHeader::XForwardedFor };
        refused(|c| trust.check(c))
    };
    assert_eq!(trust(&[]), ["proxies"]);
    assert_eq!(trust(&["127.0.0.1"]), Vec::<String>::new());
    assert_eq!(trust(&["10.0.0.0/8", "::1"]), Vec::<String>::new());
}
