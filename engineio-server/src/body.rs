//! Reading a long-polling POST body within a deadline; its size limit and the memory it holds
//! are [`BodyCollector`]'s rules.

use std::time::Duration;

use bytes::Bytes;
use engineio_parser::body::BodyCollector;
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

/// Reads `body` within `deadline`, refusing it as soon as it is known to exceed `max` bytes;
/// the memory it holds meanwhile is bounded as [`BodyCollector`] describes.
pub(crate) async fn read_body<B>(body: B, max: usize, deadline: Duration) -> BodyRead
where
    B: Body<Data = Bytes>,
{
    let collector = BodyCollector::new(max);
    if collector.refuses_announced(body.size_hint().lower()) {
        return BodyRead::TooLarge;
    }
    tokio::time::timeout(deadline, collect(body, collector)).await.unwrap_or(BodyRead::TimedOut)
}

async fn collect<B>(body: B, mut collector: BodyCollector) -> BodyRead
where
    B: Body<Data = Bytes>,
{
    let mut body = std::pin::pin!(body);
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { return BodyRead::Gone };
        // Trailers carry no data.
        let Ok(chunk) = frame.into_data() else { continue };
        if collector.push(chunk).is_err() {
            return BodyRead::TooLarge;
        }
    }
    BodyRead::Complete(collector.finish())
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use http_body::{Frame, SizeHint};

    use super::*;

    /// A body of `chunks`, with an announced length, that may stall after its last chunk.
    struct Chunks {
        chunks: VecDeque<Bytes>,
        announced: Option<u64>,
        stall: bool,
    }

    impl Chunks {
        fn new(len: usize, segment: usize) -> Self {
            let data: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            let chunks = data.chunks(segment).map(Bytes::copy_from_slice).collect();
            Chunks { chunks, announced: None, stall: false }
        }
    }

    impl Body for &mut Chunks {
        type Data = Bytes;
        type Error = std::io::Error;

        fn poll_frame(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
            let this = self.get_mut();
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

    #[tokio::test]
    async fn a_body_is_read_whole_and_refused_past_its_limit() {
        let mut body = Chunks::new(1000, 7);
        assert!(
            matches!(read_body(&mut body, 1000, Duration::from_secs(30)).await, BodyRead::Complete(b) if b.len() == 1000)
        );
        // Announced: refused before any byte is read.
        let mut body = Chunks::new(10, 10);
        body.announced = Some(1_000_000_000_000);
        assert_eq!(read_body(&mut body, 1000, Duration::from_secs(30)).await, BodyRead::TooLarge);
        assert_eq!(body.chunks.len(), 1, "nothing was read");
        // Found while reading (a chunked body): nothing more is read.
        let mut body = Chunks::new(3000, 100);
        assert_eq!(read_body(&mut body, 1000, Duration::from_secs(30)).await, BodyRead::TooLarge);
        assert_eq!(body.chunks.len(), 30 - 11);
    }

    #[tokio::test]
    async fn a_body_that_stops_arriving_times_out() {
        let mut body = Chunks::new(10, 1);
        body.stall = true;
        assert_eq!(read_body(&mut body, 1000, Duration::from_millis(20)).await, BodyRead::TimedOut);
    }
}
