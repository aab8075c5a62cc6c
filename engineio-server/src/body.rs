//! Reading a long-polling POST body: bounded in size, in time, and in the memory it holds
//! while it arrives.

use std::time::Duration;

use bytes::Bytes;
use http_body::Body;
use http_body_util::BodyExt;

/// How a POST body read ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum BodyRead {
    /// The whole body.
    Complete(Bytes),
    /// It is larger than `max_payload`: announced so by its `Content-Length` (then nothing of
    /// it was read), or found so while reading.
    TooLarge,
    /// It did not arrive within the deadline.
    TimedOut,
    /// The connection failed or closed mid-body.
    Gone,
}

/// Reads `body` within `deadline`, refusing it as soon as it is known to exceed `max` bytes.
///
/// The memory held while the body arrives is at most about twice the bytes received, however
/// the client cuts it up: every chunk after the first is copied into one growing buffer and
/// released at once. (Collecting the chunks as they come would keep each one's whole read
/// buffer alive: a body sent a byte per TCP segment would pin kilobytes per byte.) A body
/// that arrives in one chunk is kept as it came, without a copy.
pub(crate) async fn read_body<B>(body: B, max: usize, deadline: Duration) -> BodyRead
where
    B: Body<Data = Bytes>,
{
    if body.size_hint().lower() > max as u64 {
        return BodyRead::TooLarge;
    }
    tokio::time::timeout(deadline, collect(body, max)).await.unwrap_or(BodyRead::TimedOut)
}

async fn collect<B>(body: B, max: usize) -> BodyRead
where
    B: Body<Data = Bytes>,
{
    let mut body = std::pin::pin!(body);
    let mut first: Option<Bytes> = None;
    let mut joined: Vec<u8> = Vec::new();
    let mut len = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { return BodyRead::Gone };
        // Trailers carry no data.
        let Ok(chunk) = frame.into_data() else { continue };
        if chunk.is_empty() {
            continue;
        }
        len += chunk.len();
        if len > max {
            return BodyRead::TooLarge;
        }
        match first.take() {
            None if joined.is_empty() => first = Some(chunk),
            Some(first) => {
                joined.reserve(len);
                joined.extend_from_slice(&first);
                joined.extend_from_slice(&chunk);
            }
            None => joined.extend_from_slice(&chunk),
        }
    }
    BodyRead::Complete(first.unwrap_or_else(|| Bytes::from(joined)))
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::pin::Pin;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::{Context, Poll};

    use http_body::{Frame, SizeHint};

    use super::*;

    /// A body whose chunks are each a slice of its own 8 KiB buffer, as a server's read buffer
    /// would hand them out when the client sends a few bytes per TCP segment. It records how
    /// many of the buffers it handed out were still alive each time it was asked for more.
    struct Segmented {
        chunks: VecDeque<Bytes>,
        alive: Arc<AtomicUsize>,
        most_alive: usize,
        announced: Option<u64>,
        stall: bool,
    }

    /// A read buffer that counts itself alive until dropped.
    struct ReadBuffer {
        bytes: Vec<u8>,
        alive: Arc<AtomicUsize>,
    }

    impl AsRef<[u8]> for ReadBuffer {
        fn as_ref(&self) -> &[u8] {
            &self.bytes
        }
    }

    impl Drop for ReadBuffer {
        fn drop(&mut self) {
            self.alive.fetch_sub(1, Ordering::SeqCst);
        }
    }

    impl Segmented {
        fn new(data: &[u8], segment: usize) -> Self {
            let alive = Arc::new(AtomicUsize::new(0));
            let chunks = data
                .chunks(segment)
                .map(|piece| {
                    let mut bytes = piece.to_vec();
                    bytes.resize(8192, 0);
                    alive.fetch_add(1, Ordering::SeqCst);
                    Bytes::from_owner(ReadBuffer { bytes, alive: alive.clone() }).slice(..piece.len())
                })
                .collect();
            Segmented { chunks, alive, most_alive: 0, announced: None, stall: false }
        }

        fn handed_out_alive(&self) -> usize {
            self.alive.load(Ordering::SeqCst) - self.chunks.len()
        }
    }

    impl Body for &mut Segmented {
        type Data = Bytes;
        type Error = std::io::Error;

        fn poll_frame(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
            let this = self.get_mut();
            this.most_alive = this.most_alive.max(this.handed_out_alive());
            match this.chunks.pop_front() {
                Some(chunk) => Poll::Ready(Some(Ok(Frame::data(chunk)))),
                None if this.stall => Poll::Pending,
                None => Poll::Ready(None),
            }
        }

        fn size_hint(&self) -> SizeHint {
            let mut hint = SizeHint::new();
            if let Some(len) = self.announced {
                hint.set_exact(len);
            }
            hint
        }
    }

    fn payload(len: usize) -> Vec<u8> {
        (0..len).map(|i| b'a' + (i % 26) as u8).collect()
    }

    #[tokio::test]
    async fn a_body_sent_a_byte_at_a_time_holds_no_read_buffer_but_the_latest() {
        let data = payload(5000);
        let mut body = Segmented::new(&data, 1);
        let read = read_body(&mut body, 1_000_000, Duration::from_secs(30)).await;
        assert_eq!(read, BodyRead::Complete(Bytes::from(data)));
        // The chunk just handed out, and at most the one before it.
        assert!(body.most_alive <= 2, "{} read buffers were alive at once", body.most_alive);
        assert_eq!(body.handed_out_alive(), 0, "the body holds none of them");
    }

    #[tokio::test]
    async fn a_body_in_one_chunk_is_kept_without_a_copy() {
        let data = payload(300);
        let mut body = Segmented::new(&data, 300);
        let chunk = body.chunks[0].clone();
        let BodyRead::Complete(read) = read_body(&mut body, 1_000_000, Duration::from_secs(30)).await else {
            panic!("the body is complete")
        };
        assert_eq!(read.as_ptr(), chunk.as_ptr());
    }

    #[tokio::test]
    async fn bodies_over_the_limit_are_refused() {
        // Announced: refused before any byte is read.
        let mut body = Segmented::new(&payload(10), 10);
        body.announced = Some(1_000_000_000_000);
        assert_eq!(read_body(&mut body, 1000, Duration::from_secs(30)).await, BodyRead::TooLarge);
        assert_eq!(body.chunks.len(), 1, "nothing was read");
        // Found while reading (a chunked body): refused at the chunk that passes the limit.
        let mut body = Segmented::new(&payload(3000), 100);
        assert_eq!(read_body(&mut body, 1000, Duration::from_secs(30)).await, BodyRead::TooLarge);
        assert_eq!(body.chunks.len(), 30 - 11);
        // Exactly the limit is accepted.
        let mut body = Segmented::new(&payload(1000), 7);
        assert!(
            matches!(read_body(&mut body, 1000, Duration::from_secs(30)).await, BodyRead::Complete(b) if b.len() == 1000)
        );
    }

    #[tokio::test]
    async fn a_body_that_stops_arriving_times_out() {
        let mut body = Segmented::new(&payload(10), 1);
        body.stall = true;
        assert_eq!(read_body(&mut body, 1000, Duration::from_millis(20)).await, BodyRead::TimedOut);
    }
}
