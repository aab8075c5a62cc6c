//! The probes: each attacks the target and says what the server did. Setup failures (a
//! handshake refused) end a probe with a failed outcome; everything else is measured.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

use super::wire::{
    alive_or_end, describe, echo, end_of, join, mib, new_sid, post_head, random_sid, seconds, within, Answer,
    End, Raw, Tally, STEP, WEBSOCKET,
};
use super::{Outcome, Probe, Scale, Target};
use crate::{Http, Msg, Polling, Proto, Ws, POLLING_HANDSHAKE as POLLING};

/// The Content-Length of the slow bodies that announce less than `max_payload`.
pub(super) const SLOW_BODY_LENGTH: u64 = 500_000;
/// How far the chunked body streams when nothing stops it.
pub(super) const CHUNKED_MAX: usize = 2 << 20;
/// Time between two body bytes of a slow POST.
const SLOW_BODY_BYTE_EVERY: Duration = Duration::from_secs(2);
/// RSS growth per body byte in flight above which the segmented bodies fail.
const SEGMENT_COST_LIMIT: f64 = 512.0;

/// Runs `probe` against `target`.
pub(super) async fn attack(probe: Probe, t: &Target, s: &Scale) -> Outcome {
    let result = match probe {
        Probe::Slowloris => slowloris(t, s).await,
        Probe::SlowBodies => slow_bodies(t, s).await,
        Probe::SegmentedBodies => segmented_bodies(t, s).await,
        Probe::OversizedLength => oversized_length(t).await,
        Probe::ChunkedOverLimit => chunked_over_limit(t).await,
        Probe::HugeFrameLength => huge_frame_length(t).await,
        Probe::InvalidNamespaces => invalid_namespaces(t, s).await,
        Probe::UnknownAcks => unknown_acks(t, s).await,
        Probe::DeepJson => {
            let d = s.depth;
            one_event(t, format!(r#"42["e",{}{}]"#, "[".repeat(d), "]".repeat(d)), true).await
        }
        Probe::HugeEventName => one_event(t, format!(r#"42["{}",1]"#, "e".repeat(s.event_name)), false).await,
        Probe::MissingAttachments => missing_attachments(t, s).await,
        Probe::StalledReader => stalled_reader(t, s).await,
        Probe::FdExhaustion => fd_exhaustion(t, s).await,
        Probe::SessionIds => session_ids(t).await,
    };
    result.unwrap_or_else(|e| Outcome { summary: format!("the probe could not run: {e}"), pass: Some(false) })
}

/// A connection that writes `bytes` one at a time, `every` apart, until the server answers or
/// closes or `hold` ends: the answer and when it came.
async fn trickle(
    addr: &str,
    head: &[u8],
    bytes: Arc<[u8]>,
    every: Duration,
    hold: Duration,
) -> (String, Duration) {
    let started = Instant::now();
    let mut raw = match Raw::send(addr, head).await {
        Ok(raw) => raw,
        Err(e) => return (format!("connect failed ({})", e.kind()), started.elapsed()),
    };
    let mut tick = tokio::time::interval(every);
    let mut sent = 0;
    loop {
        tokio::select! {
            answer = raw.reader.answer(started + hold) => return (answer.to_string(), started.elapsed()),
            _ = tick.tick() => {
                let byte = bytes.get(sent).copied().unwrap_or(b'a');
                // A write the server refuses shows as the answer on the next turn.
                let _ = raw.writer.write_all(&[byte]).await;
                sent += 1;
            }
        }
    }
}

/// Whether no connection of `tally` was left open or failed to connect.
fn all_ended(tally: &Tally, connections: usize) -> bool {
    tally.count(&Answer::Silent.to_string()) == 0
        && tally.count_prefix("connect failed") == 0
        && connections > 0
}

async fn slowloris(t: &Target, s: &Scale) -> std::io::Result<Outcome> {
    let headers: Arc<[u8]> =
        format!("GET {POLLING} HTTP/1.1\r\nHost: {}\r\nX-Padding: ", t.addr).into_bytes().into();
    let tasks: Vec<_> = (0..s.slowloris_connections)
        .map(|_| {
            let (addr, headers) = (t.addr.clone(), headers.clone());
            let (every, hold) = (s.slowloris_byte_every, s.slowloris_hold);
            tokio::spawn(async move { trickle(&addr, b"", headers, every, hold).await })
        })
        .collect();
    let mut tally = Tally::default();
    for task in tasks {
        let (label, after) = task.await.map_err(std::io::Error::other)?;
        tally.add(label, after);
    }
    Ok(Outcome { summary: tally.render(), pass: Some(all_ended(&tally, s.slowloris_connections)) })
}

async fn slow_bodies(t: &Target, s: &Scale) -> std::io::Result<Outcome> {
    let mut sids = Vec::with_capacity(s.slow_bodies);
    for _ in 0..s.slow_bodies {
        sids.push(new_sid(&t.addr).await?);
    }
    let body: Arc<[u8]> = Arc::from(&b"4"[..]);
    let tasks: Vec<_> = sids
        .into_iter()
        .enumerate()
        .map(|(i, sid)| {
            let huge = i % 2 == 0;
            let head =
                post_head(&t.addr, &sid, Some(if huge { 1_000_000_000_000 } else { SLOW_BODY_LENGTH }));
            let (addr, body, hold) = (t.addr.clone(), body.clone(), s.slow_body_hold);
            tokio::spawn(async move {
                let (label, after) = trickle(&addr, head.as_bytes(), body, SLOW_BODY_BYTE_EVERY, hold).await;
                (huge, label, after)
            })
        })
        .collect();
    let (mut huge, mut under) = (Tally::default(), Tally::default());
    for task in tasks {
        let (is_huge, label, after) = task.await.map_err(std::io::Error::other)?;
        if is_huge { &mut huge } else { &mut under }.add(label, after);
    }
    let half = s.slow_bodies / 2;
    Ok(Outcome {
        summary: format!(
            "Content-Length 10¹²: {}. Content-Length {SLOW_BODY_LENGTH}: {}",
            huge.render(),
            under.render()
        ),
        pass: Some(all_ended(&huge, s.slow_bodies - half) && all_ended(&under, half)),
    })
}

/// Events on `/` of about `len` bytes in all, as one long-polling body.
fn polling_events(len: usize) -> Vec<u8> {
    const PACKET: &str = "42[\"noop\",\"";
    let mut body = String::with_capacity(len);
    while len.saturating_sub(body.len()) > PACKET.len() + 3 {
        if !body.is_empty() {
            body.push('\x1e');
        }
        let fill = (len - body.len() - PACKET.len() - 2).min(1000);
        body.push_str(PACKET);
        body.push_str(&"a".repeat(fill));
        body.push_str("\"]");
    }
    body.into_bytes()
}

async fn segmented_bodies(t: &Target, s: &Scale) -> std::io::Result<Outcome> {
    let body: Arc<[u8]> = polling_events(s.segmented_body).into();
    let mut sessions = Vec::new();
    for _ in 0..s.segmented_sessions {
        sessions.push(within(STEP, Polling::open(&t.addr)).await?);
    }
    let base = crate::rss_bytes(t.pid)?;
    // Every body but its last byte, one byte per segment, all sessions at once.
    let tasks: Vec<_> = sessions
        .iter()
        .map(|session| {
            let (addr, body) = (t.addr.clone(), body.clone());
            let head = post_head(&t.addr, session.sid(), Some(body.len() as u64));
            tokio::spawn(async move {
                let mut raw = Raw::send(&addr, head.as_bytes()).await?;
                for (i, byte) in body[..body.len() - 1].iter().enumerate() {
                    raw.writer.write_all(&[*byte]).await?;
                    if i % 8 == 7 {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
                Ok::<_, std::io::Error>(raw)
            })
        })
        .collect();
    let mut in_flight = Vec::new();
    let mut failed = 0;
    for task in tasks {
        match task.await.map_err(std::io::Error::other)? {
            Ok(raw) => in_flight.push(raw),
            Err(_) => failed += 1,
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let held = crate::rss_bytes(t.pid)?;
    let bytes = in_flight.len() * (body.len() - 1);
    let growth = held as f64 - base as f64;
    let per_byte = growth / bytes.max(1) as f64;
    let mut answers = Tally::default();
    for raw in &mut in_flight {
        let started = Instant::now();
        let answer = match raw.writer.write_all(&body[body.len() - 1..]).await {
            Ok(()) => raw.reader.answer(started + STEP).await,
            Err(_) => Answer::Reset,
        };
        answers.add(answer, started.elapsed());
    }
    // Closed now, so that they leave `/` before the next probe counts its sockets.
    for mut session in sessions {
        let _ = within(STEP, session.send(b"1")).await;
    }
    Ok(Outcome {
        summary: format!(
            "{} bytes in flight in {} bodies ({failed} cut off): RSS {:+.0} KiB, {per_byte:.1} B per body byte; \
             answers once complete: {}",
            bytes,
            in_flight.len(),
            growth / 1024.0,
            answers.render()
        ),
        pass: Some(
            failed == 0 && answers.count("200") == s.segmented_sessions && per_byte < SEGMENT_COST_LIMIT,
        ),
    })
}

/// After an answer with a status: whether the server then closed the connection (within 2 s).
async fn then_closed(raw: &mut Raw, answer: &Answer) -> &'static str {
    match answer {
        Answer::Status(_) if raw.reader.closes_within(Duration::from_secs(2)).await => {
            "; connection then closed"
        }
        Answer::Status(_) => "; connection kept open",
        _ => "",
    }
}

async fn oversized_length(t: &Target) -> std::io::Result<Outcome> {
    let sid = new_sid(&t.addr).await?;
    let mut raw = Raw::send(&t.addr, post_head(&t.addr, &sid, Some(1_000_000_000)).as_bytes()).await?;
    let started = Instant::now();
    let answer = raw.reader.answer(started + STEP).await;
    let took = started.elapsed();
    let then = then_closed(&mut raw, &answer).await;
    Ok(Outcome {
        summary: format!("{answer} after {} with no body byte sent{then}", seconds(took.as_secs_f64())),
        pass: Some(answer == Answer::Status(413)),
    })
}

async fn chunked_over_limit(t: &Target) -> std::io::Result<Outcome> {
    const CHUNK: usize = 64 * 1024;
    let sid = new_sid(&t.addr).await?;
    let mut raw = Raw::send(&t.addr, post_head(&t.addr, &sid, None).as_bytes()).await?;
    let mut chunk = format!("{CHUNK:x}\r\n").into_bytes();
    chunk.extend(std::iter::repeat_n(b'a', CHUNK));
    chunk.extend_from_slice(b"\r\n");
    // After each chunk, a short look for an answer: the figure is how much went out before it.
    let mut sent = 0;
    let answer = loop {
        if sent >= CHUNKED_MAX || raw.writer.write_all(&chunk).await.is_err() {
            break raw.reader.answer(Instant::now() + STEP).await;
        }
        sent += CHUNK;
        match raw.reader.answer(Instant::now() + Duration::from_millis(10)).await {
            Answer::Silent => {}
            answer => break answer,
        }
    };
    let then = then_closed(&mut raw, &answer).await;
    Ok(Outcome {
        summary: format!("{answer} after {} of body sent{then}", mib(sent as f64)),
        pass: Some(answer == Answer::Status(413)),
    })
}

async fn huge_frame_length(t: &Target) -> std::io::Result<Outcome> {
    let mut parts = Vec::new();
    let mut pass = true;
    for (label, len) in [("2⁶³−1", (1u64 << 63) - 1), ("2⁶⁴−1", u64::MAX), ("2³¹", 1u64 << 31)] {
        let mut ws = within(STEP, Ws::open(&t.addr, WEBSOCKET, Proto::SocketIo)).await?;
        within(STEP, ws.recv()).await?;
        // A masked text frame with the 64-bit length form, and a few payload bytes.
        let mut frame = vec![0x81, 0xff];
        frame.extend_from_slice(&len.to_be_bytes());
        frame.extend_from_slice(&[0x11, 0x22, 0x33, 0x44]);
        frame.extend_from_slice(&[0x61; 16]);
        let end = match ws.write_raw(&frame).await {
            Ok(()) => end_of(&mut ws, STEP).await,
            Err(e) => End::of(&e),
        };
        pass &= matches!(end, End::Close(Some(1009 | 1002)));
        parts.push(format!("{label}: {end}"));
    }
    Ok(Outcome { summary: parts.join("; "), pass: Some(pass) })
}

async fn invalid_namespaces(t: &Target, s: &Scale) -> std::io::Result<Outcome> {
    const BATCH: usize = 100;
    let mut ws = join(&t.addr).await?;
    let (mut good, mut other, mut ended) = (0, None, None);
    'batches: for start in (0..s.namespaces).step_by(BATCH) {
        let batch = start..(start + BATCH).min(s.namespaces);
        for i in batch.clone() {
            ws.queue(0x1, format!("40/nope{i},").as_bytes());
        }
        if let Err(e) = within(STEP, ws.flush()).await {
            ended = Some(End::of(&e));
            break;
        }
        for i in batch {
            match within(STEP, ws.recv()).await {
                Ok(Msg::Text(text)) if text == format!(r#"44/nope{i},{{"message":"Invalid namespace"}}"#) => {
                    good += 1
                }
                Ok(msg) => {
                    other.get_or_insert_with(|| format!("{msg:?}").chars().take(80).collect::<String>());
                }
                Err(e) => {
                    ended = Some(End::of(&e));
                    break 'batches;
                }
            }
        }
    }
    let state = match ended {
        Some(end) => Some(end),
        None => alive_or_end(&mut ws).await,
    };
    let other = other.map(|m| format!(" (first other answer: {m})")).unwrap_or_default();
    Ok(Outcome {
        summary: format!(
            "{good} of {} answered `44/nopeN,{{\"message\":\"Invalid namespace\"}}`{other}; connection {}",
            s.namespaces,
            describe(&state)
        ),
        pass: Some(good == s.namespaces && state.is_none()),
    })
}

async fn unknown_acks(t: &Target, s: &Scale) -> std::io::Result<Outcome> {
    const BATCH: usize = 1000;
    let mut ws = join(&t.addr).await?;
    let (mut sent, mut ended) = (0, None);
    for start in (0..s.acks).step_by(BATCH) {
        let end = (start + BATCH).min(s.acks);
        for id in start..end {
            ws.queue(0x1, format!("43{}[]", id + 1).as_bytes());
        }
        match within(Duration::from_secs(10), ws.flush()).await {
            Ok(()) => sent = end,
            Err(e) => {
                ended = Some(End::of(&e));
                break;
            }
        }
    }
    let state = match ended {
        Some(end) => Some(end),
        None => alive_or_end(&mut ws).await,
    };
    Ok(Outcome {
        summary: format!("{sent} of {} sent; connection {}", s.acks, describe(&state)),
        pass: Some(state != Some(End::Open)),
    })
}

/// Sends one event (text `packet`) on a fresh connection, then says whether the connection
/// still answers. With `must_close`, only a closed connection passes; otherwise any answer does.
async fn one_event(t: &Target, packet: String, must_close: bool) -> std::io::Result<Outcome> {
    let mut ws = join(&t.addr).await?;
    let started = Instant::now();
    let state = match ws.send_text(packet.as_bytes()).await {
        Ok(()) => alive_or_end(&mut ws).await,
        Err(e) => Some(End::of(&e)),
    };
    let pass = match &state {
        None => !must_close,
        Some(end) => end.closed(),
    };
    Ok(Outcome {
        summary: format!(
            "connection {} ({} after sending)",
            describe(&state),
            seconds(started.elapsed().as_secs_f64())
        ),
        pass: Some(pass),
    })
}

async fn missing_attachments(t: &Target, s: &Scale) -> std::io::Result<Outcome> {
    let placeholders: Vec<String> =
        (0..10).map(|n| format!(r#"{{"_placeholder":true,"num":{n}}}"#)).collect();
    let header: Arc<str> = format!(r#"4510-["e",{}]"#, placeholders.join(",")).into();
    let attachment: Arc<[u8]> = vec![0x5a; s.attachment_size].into();
    let base = crate::rss_bytes(t.pid)?;
    let tasks: Vec<_> = (0..s.attachment_connections)
        .map(|_| {
            let (addr, header, attachment) = (t.addr.clone(), header.clone(), attachment.clone());
            tokio::spawn(async move {
                let mut ws = join(&addr).await?;
                let mut sent = 0;
                let mut result = ws.send_text(header.as_bytes()).await;
                while result.is_ok() && sent < 9 {
                    result = within(Duration::from_secs(10), ws.send_binary(&attachment)).await;
                    sent += usize::from(result.is_ok());
                }
                Ok::<_, std::io::Error>((sent, result.map(|()| ws).map_err(|e| End::of(&e))))
            })
        })
        .collect();
    let mut waiting = Vec::new();
    let mut ends = Tally::default();
    let mut sent_total = 0;
    let started = Instant::now();
    for task in tasks {
        let (sent, state) = task.await.map_err(std::io::Error::other)??;
        sent_total += sent;
        match state {
            Ok(ws) => waiting.push(ws),
            Err(end) => ends.add(format!("{end} while sending"), started.elapsed()),
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let held = crate::rss_bytes(t.pid)? as f64 - base as f64;
    let checks: Vec<_> = waiting
        .into_iter()
        .map(|mut ws| tokio::spawn(async move { end_of(&mut ws, Duration::from_secs(2)).await }))
        .collect();
    for check in checks {
        ends.add(check.await.map_err(std::io::Error::other)?, started.elapsed());
    }
    Ok(Outcome {
        summary: format!(
            "{sent_total} attachments sent over {} connections; RSS held {} while they waited; {}",
            s.attachment_connections,
            if held < 0.0 { "-".to_owned() + &mib(-held) } else { "+".to_owned() + &mib(held) },
            ends.render()
        ),
        pass: Some(ends.count(&End::Open.to_string()) == 0),
    })
}

/// The number of sockets on `/` (the contract's `count`), skipping broadcasts on the way.
async fn count(ws: &mut Ws, id: u64) -> std::io::Result<u64> {
    ws.send_text(format!(r#"42{id}["count"]"#).as_bytes()).await?;
    let prefix = format!("43{id}[");
    within(STEP, async {
        loop {
            if let Msg::Text(t) = ws.recv().await? {
                if let Some(rest) = t.strip_prefix(prefix.as_bytes()) {
                    let digits: String =
                        rest.iter().take_while(|b| b.is_ascii_digit()).map(|&b| char::from(b)).collect();
                    return digits.parse().map_err(|_| std::io::Error::other("a count that is not a number"));
                }
            }
        }
    })
    .await
}

/// Waits for the next `bcast` event on `ws`.
async fn next_broadcast(ws: &mut Ws) -> std::io::Result<()> {
    within(STEP, async {
        loop {
            if let Msg::Text(t) = ws.recv().await? {
                if t.starts_with(br#"42["bcast""#) {
                    return Ok(());
                }
            }
        }
    })
    .await
}

async fn stalled_reader(t: &Target, s: &Scale) -> std::io::Result<Outcome> {
    const CHECK_EVERY: usize = 16;
    let mut stalled = join(&t.addr).await?;
    let mut sender = join(&t.addr).await?;
    let sockets = count(&mut sender, 1).await?;
    let packet = format!(r#"42["bcast","{}"]"#, "x".repeat(s.broadcast_size));
    let started = Instant::now();
    let (mut rounds, mut received, mut dropped_at, mut sender_lost) = (0, 0, None, None);
    while rounds < s.broadcast_rounds && started.elapsed() < Duration::from_secs(60) {
        rounds += 1;
        if let Err(e) = async {
            sender.send_text(packet.as_bytes()).await?;
            next_broadcast(&mut sender).await?;
            received += 1;
            if dropped_at.is_none()
                && rounds % CHECK_EVERY == 0
                && count(&mut sender, rounds as u64 + 1).await? < sockets
            {
                dropped_at = Some(rounds);
            }
            Ok::<_, std::io::Error>(())
        }
        .await
        {
            sender_lost = Some(format!("the sender lost its connection at round {rounds} ({e})"));
            break;
        }
        // A few more rounds after the drop show that the others keep receiving.
        if dropped_at.is_some_and(|at| rounds >= at + CHECK_EVERY) {
            break;
        }
    }
    // What the stalled client gets when it reads at last, until its connection ends.
    // A client still connected goes quiet once drained: 5 s of silence ends the wait.
    let (mut read, reading) = (0usize, Instant::now());
    let end = loop {
        let left = Duration::from_secs(30).saturating_sub(reading.elapsed());
        match within(Duration::from_secs(5).min(left), stalled.recv()).await {
            Ok(Msg::Text(m) | Msg::Binary(m)) => read += m.len(),
            Err(e) => break End::of(&e),
        }
    };
    let read_for = seconds(reading.elapsed().as_secs_f64());
    let sent_to_it = |n: usize| mib((n * packet.len()) as f64);
    let stalled_text = match dropped_at {
        Some(at) => format!("`count` fell after {at} broadcasts ({} sent to each client)", sent_to_it(at)),
        None => format!(
            "`count` never fell through {rounds} broadcasts ({} sent to each client)",
            sent_to_it(rounds)
        ),
    };
    Ok(Outcome {
        summary: format!(
            "{stalled_text}; the stalled client, reading at last, got {} and then: {end} (after {read_for}); the sender got {received} of {rounds}{}",
            mib(read as f64),
            sender_lost.map(|l| format!(" ({l})")).unwrap_or_default()
        ),
        pass: Some(end.closed() && received == rounds),
    })
}

async fn fd_exhaustion(t: &Target, s: &Scale) -> std::io::Result<Outcome> {
    const AT_ONCE: usize = 32;
    const CONNECT_LIMIT: Duration = Duration::from_secs(3);
    let Some(limit) = t.fd_limit else {
        return Ok(Outcome {
            summary: "skipped: needs a server started with a descriptor limit (side-by-side mode)".into(),
            pass: None,
        });
    };
    let mut clients = Vec::new();
    let mut attempts = Tally::default();
    let mut left = s.fd_clients;
    while left > 0 {
        let batch = left.min(AT_ONCE);
        left -= batch;
        let tries = (0..batch).map(|_| async {
            let started = Instant::now();
            (within(CONNECT_LIMIT, Ws::connect(&t.addr, Proto::SocketIo)).await, started.elapsed())
        });
        for (result, took) in futures::future::join_all(tries).await {
            match result {
                Ok(ws) => {
                    clients.push(ws);
                    attempts.add("connected", took);
                }
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => attempts.add("timed out (3 s)", took),
                Err(e) => attempts
                    .add(format!("failed: {}", e.to_string().chars().take(60).collect::<String>()), took),
            }
        }
    }
    let connected = clients.len();
    let held_fds = crate::open_fds(t.pid).map_or_else(|_| "?".to_owned(), |n| n.to_string());
    let answering = futures::future::join_all(clients.iter_mut().map(|ws| echo(ws, 2)))
        .await
        .into_iter()
        .filter(Result::is_ok)
        .count();
    drop(clients);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let recovered = match join(&t.addr).await {
        Ok(mut ws) => alive_or_end(&mut ws).await.is_none(),
        Err(_) => false,
    };
    let log = t.log.as_ref().map(|path| log_summary(path)).unwrap_or_default();
    Ok(Outcome {
        summary: format!(
            "limit {limit} fds: {connected} of {} connected ({answering} of them still answering once all \
             were tried, server fds then {held_fds}); attempts: {}; after closing them a fresh client {}{log}",
            s.fd_clients,
            attempts.render(),
            if recovered { "connected and echoed" } else { "FAILED" }
        ),
        pass: Some(recovered && connected > 0),
    })
}

/// The warnings in the server's output: how many, and the first.
fn log_summary(path: &std::path::Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    // From the level on: the timestamp before it says nothing here.
    let warnings: Vec<String> = text
        .lines()
        .map(strip_ansi)
        .filter_map(|l| l.find("WARN").or_else(|| l.find("ERROR")).map(|at| l[at..].to_owned()))
        .collect();
    match warnings.first() {
        None => "; no warning in the server's output".into(),
        Some(first) => format!(
            "; warning lines in the server's output: {}, the first: `{}`",
            warnings.len(),
            first.replace('`', "'").chars().take(160).collect::<String>()
        ),
    }
}

/// `line` without terminal colour sequences (`ESC [ ... m`).
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A polling request on a connection of its own, in words: `400 code 1` for the unknown-session
/// answer, the status and the start of the body otherwise.
async fn polling_answer(addr: &str, method: &str, sid: &str, body: Option<&[u8]>) -> String {
    let request = async {
        let mut http = Http::connect(addr).await?;
        http.request(method, &format!("{POLLING}&sid={sid}"), body).await
    };
    match within(STEP, request).await {
        Ok((status, body)) => {
            let json: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
            match json.as_ref().and_then(|j| j["code"].as_u64()) {
                Some(code) => format!("{status} code {code}"),
                None => format!(
                    "{status} {}",
                    String::from_utf8_lossy(&body).chars().take(40).collect::<String>()
                ),
            }
        }
        Err(e) => format!("error: {e}"),
    }
}

/// A WebSocket handshake at `target`, in words: the status, and after a `101` what the server
/// sent next (within 2 s).
async fn upgrade_answer(addr: &str, target: &str) -> String {
    let mut raw = match Raw::send(addr, crate::upgrade_request(addr, target).as_bytes()).await {
        Ok(raw) => raw,
        Err(e) => return format!("error: {e}"),
    };
    match raw.reader.answer(Instant::now() + STEP).await {
        Answer::Status(101) => match raw.reader.next_bytes(Instant::now() + Duration::from_secs(2)).await {
            Some(bytes) if bytes.is_empty() => "101, then the connection closed".into(),
            Some(bytes) if bytes[0] == 0x88 && bytes.len() >= 4 => {
                format!("101, then close frame {}", u16::from_be_bytes([bytes[2], bytes[3]]))
            }
            Some(bytes) if bytes[0] == 0x88 => "101, then close frame".into(),
            Some(_) => "101, then data".into(),
            None => "101, then nothing for 2 s".into(),
        },
        answer => answer.to_string(),
    }
}

async fn session_ids(t: &Target) -> std::io::Result<Outcome> {
    let addr = &t.addr;
    let unknown = random_sid();
    let get = polling_answer(addr, "GET", &unknown, None).await;
    let post = polling_answer(addr, "POST", &unknown, Some(b"40")).await;

    let mut closed = within(STEP, Polling::handshake(addr)).await?;
    within(STEP, closed.send(b"1")).await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let reused = polling_answer(addr, "GET", closed.sid(), None).await;

    let ws_unknown = upgrade_answer(addr, &format!("{WEBSOCKET}&sid={}", random_sid())).await;

    let upgraded = new_sid(addr).await?;
    let target = format!("{WEBSOCKET}&sid={upgraded}");
    let mut first = within(STEP, Ws::open(addr, &target, Proto::SocketIo)).await?;
    first.send_text(b"2probe").await?;
    match within(STEP, first.recv()).await? {
        Msg::Text(probe) if &probe[..] == b"3probe" => {}
        other => return Err(std::io::Error::other(format!("the upgrade probe was answered {other:?}"))),
    }
    first.send_text(b"5").await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let second = upgrade_answer(addr, &target).await;
    drop(first);

    let unknown_session = |answer: &str| answer == "400 code 1";
    let refused = |answer: &str| !answer.starts_with("101") || answer.contains("close");
    Ok(Outcome {
        summary: format!(
            "GET unknown sid: {get}; POST unknown sid: {post}; GET closed sid: {reused}; \
             WebSocket with unknown sid: {ws_unknown}; second WebSocket on an upgraded sid: {second}"
        ),
        pass: Some(
            unknown_session(&get)
                && unknown_session(&post)
                && unknown_session(&reused)
                && refused(&ws_unknown)
                && refused(&second),
        ),
    })
}
