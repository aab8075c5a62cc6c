//! A long-polling POST body as it arrives, bounded by `max_payload` and in the memory it holds.
//!
//! The reference refuses a body larger than `maxHttpBufferSize` with `413`: one whose
//! `Content-Length` says so before any byte is read ([`BodyCollector::refuses_announced`]), or
//! one found so while it arrives ([`BodyCollector::push`]).
//!
//! The memory held is at most about twice the bytes received, however the client cuts the body
//! up: every chunk after the first is copied into one growing buffer and released at once.
//! Keeping the chunks as they come would keep each one's whole read buffer alive (a body sent a
//! byte per TCP segment would pin kilobytes per byte). A body that arrives in one chunk is kept
//! as it came, without a copy.
//!
//! ```
//! use bytes::Bytes;
//! use engineio_parser::body::{BodyCollector, BodyTooLarge};
//!
//! let mut body = BodyCollector::new(8);
//! assert!(body.refuses_announced(9));
//! body.push(Bytes::from_static(b"4hel"))?;
//! body.push(Bytes::from_static(b"lo"))?;
//! assert_eq!(body.finish(), Bytes::from_static(b"4hello"));
//!
//! let mut body = BodyCollector::new(4);
//! assert_eq!(body.push(Bytes::from_static(b"4hello")), Err(BodyTooLarge));
//! # Ok::<(), BodyTooLarge>(())
//! ```

use bytes::Bytes;

/// A body went past its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the body is larger than the limit")]
pub struct BodyTooLarge;

/// A POST body being received. See the [module docs](self).
#[derive(Debug, Default)]
pub struct BodyCollector {
    max: usize,
    len: usize,
    /// The first chunk, kept as it came while it is the only one.
    first: Option<Bytes>,
    /// Every byte, once a second chunk arrived.
    joined: Vec<u8>,
}

impl BodyCollector {
    /// A body of at most `max` bytes.
    pub fn new(max: usize) -> Self {
        BodyCollector { max, ..BodyCollector::default() }
    }

    /// Whether a body that announces `len` bytes is refused before any of it is read.
    pub fn refuses_announced(&self, len: u64) -> bool {
        len > self.max as u64
    }

    /// The next chunk of the body; refused as soon as the bytes received pass the limit.
    pub fn push(&mut self, chunk: Bytes) -> Result<(), BodyTooLarge> {
        if chunk.is_empty() {
            return Ok(());
        }
        self.len += chunk.len();
        if self.len > self.max {
            return Err(BodyTooLarge);
        }
        match self.first.take() {
            None if self.joined.is_empty() => self.first = Some(chunk),
            Some(first) => {
                self.joined.reserve(self.len);
                self.joined.extend_from_slice(&first);
                self.joined.extend_from_slice(&chunk);
            }
            None => self.joined.extend_from_slice(&chunk),
        }
        Ok(())
    }

    /// The bytes received so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was received yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The whole body.
    pub fn finish(self) -> Bytes {
        self.first.unwrap_or_else(|| Bytes::from(self.joined))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;

    /// A read buffer of 8 KiB that counts itself alive until dropped, as a server's read buffer
    /// would be when the client sends a few bytes per TCP segment.
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

    fn segment(piece: &[u8], alive: &Arc<AtomicUsize>) -> Bytes {
        let mut bytes = piece.to_vec();
        bytes.resize(8192, 0);
        alive.fetch_add(1, Ordering::SeqCst);
        Bytes::from_owner(ReadBuffer { bytes, alive: alive.clone() }).slice(..piece.len())
    }

    fn payload(len: usize) -> Vec<u8> {
        (0..len).map(|i| b'a' + (i % 26) as u8).collect()
    }

    #[test]
    fn a_body_sent_a_byte_at_a_time_holds_no_read_buffer() {
        let data = payload(5000);
        let alive = Arc::new(AtomicUsize::new(0));
        let mut body = BodyCollector::new(1_000_000);
        for piece in data.chunks(1) {
            body.push(segment(piece, &alive)).expect("under the limit");
            // At most the first chunk, until the second arrives.
            assert!(alive.load(Ordering::SeqCst) <= 1);
        }
        assert_eq!(alive.load(Ordering::SeqCst), 0, "the body holds no read buffer");
        assert_eq!(body.len(), 5000);
        assert_eq!(body.finish(), Bytes::from(data));
    }

    #[test]
    fn a_body_in_one_chunk_is_kept_without_a_copy() {
        let alive = Arc::new(AtomicUsize::new(0));
        let chunk = segment(&payload(300), &alive);
        let mut body = BodyCollector::new(1_000_000);
        assert!(body.is_empty());
        body.push(chunk.clone()).expect("under the limit");
        body.push(Bytes::new()).expect("an empty chunk changes nothing");
        assert_eq!(body.finish().as_ptr(), chunk.as_ptr());
    }

    #[test]
    fn bodies_over_the_limit_are_refused() {
        let body = BodyCollector::new(1000);
        assert!(body.refuses_announced(1_000_000_000_000));
        assert!(body.refuses_announced(1001));
        assert!(!body.refuses_announced(1000));
        // Found while reading: refused at the chunk that passes the limit.
        let mut body = BodyCollector::new(1000);
        let data = payload(3000);
        let refused = data.chunks(100).position(|piece| body.push(Bytes::copy_from_slice(piece)).is_err());
        assert_eq!(refused, Some(10));
        // Exactly the limit is accepted.
        let mut body = BodyCollector::new(1000);
        for piece in payload(1000).chunks(7) {
            body.push(Bytes::copy_from_slice(piece)).expect("within the limit");
        }
        assert_eq!(body.finish().len(), 1000);
    }

    #[test]
    fn the_collector_counts_what_it_received() {
        let mut body = BodyCollector::new(10);
        assert!(body.is_empty());
        assert_eq!(body.len(), 0);
        body.push(Bytes::from_static(b"4a")).expect("under the limit");
        assert!(!body.is_empty());
        body.push(Bytes::from_static(b"bc")).expect("under the limit");
        body.push(Bytes::from_static(b"d")).expect("under the limit");
        assert_eq!(body.len(), 5);
        assert_eq!(body.finish(), Bytes::from_static(b"4abcd"));
        assert_eq!(BodyCollector::new(0).finish(), Bytes::new());
        assert_eq!(BodyTooLarge.to_string(), "the body is larger than the limit");
    }
}
