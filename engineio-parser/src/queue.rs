//! A first-in, first-out queue that keeps its first item in place.
//!
//! The protocol machines queue their outputs (transmits, events) between a `handle_*` call and
//! the driver's `poll_*` calls. Almost always that is one item at a time, so a plain `VecDeque`
//! would allocate on every message and free again when drained (an idle connection must hold no
//! buffer). [`Queue`] holds one item in place and spills further ones to a boxed `VecDeque` it
//! frees as soon as it empties: no allocation in the common case, none held while idle, and
//! the spill costs an idle queue 8 bytes, not a `VecDeque`'s 32 (a WebSocket session has six
//! queues).

use std::collections::VecDeque;

/// A FIFO queue whose first item needs no allocation.
#[derive(Debug, Clone)]
pub struct Queue<T> {
    /// The oldest item, unless it is in `rest` (then `head` is empty until `rest` drains).
    head: Option<T>,
    /// Boxed: 8 bytes while empty, which it is but for bursts, where a `VecDeque` takes 32.
    #[allow(clippy::box_collection)]
    rest: Option<Box<VecDeque<T>>>,
}

impl<T> Default for Queue<T> {
    fn default() -> Self {
        Queue::new()
    }
}

impl<T> Queue<T> {
    /// An empty queue.
    pub const fn new() -> Self {
        Queue { head: None, rest: None }
    }

    /// Appends `item`.
    #[inline]
    pub fn push_back(&mut self, item: T) {
        if self.head.is_none() && self.rest.is_none() {
            self.head = Some(item);
        } else {
            self.rest.get_or_insert_default().push_back(item);
        }
    }

    /// Takes the oldest item.
    #[inline]
    pub fn pop_front(&mut self) -> Option<T> {
        // Polled after every input, mostly empty: test before moving anything.
        if self.head.is_some() {
            return self.head.take();
        }
        let rest = self.rest.as_mut()?;
        let item = rest.pop_front();
        if rest.is_empty() {
            self.rest = None;
        }
        item
    }

    /// Whether the queue is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.head.is_none() && self.rest.is_none()
    }

    /// The oldest item.
    pub fn front_mut(&mut self) -> Option<&mut T> {
        match &mut self.head {
            Some(item) => Some(item),
            None => self.rest.as_mut().and_then(|rest| rest.front_mut()),
        }
    }

    /// The items, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        self.head.iter().chain(self.rest.iter().flat_map(|rest| rest.iter()))
    }

    /// How many items it holds.
    pub fn len(&self) -> usize {
        usize::from(self.head.is_some()) + self.rest.as_ref().map_or(0, |rest| rest.len())
    }
}

impl<T> Iterator for Queue<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::Queue;

    #[test]
    fn keeps_order_across_the_inline_slot_and_the_spill() {
        let mut q = Queue::new();
        q.push_back(1);
        q.push_back(2);
        q.push_back(3);
        assert_eq!(q.len(), 3);
        assert_eq!(q.pop_front(), Some(1));
        q.push_back(4);
        assert_eq!(q.pop_front(), Some(2));
        assert_eq!(q.pop_front(), Some(3));
        q.push_back(5);
        assert_eq!(q.by_ref().collect::<Vec<_>>(), [4, 5]);
        assert!(q.is_empty());
        assert_eq!(q.pop_front(), None);
    }

    #[test]
    fn holds_no_allocation_once_drained() {
        let mut q = Queue::new();
        for i in 0..10 {
            q.push_back(i);
        }
        while q.pop_front().is_some() {}
        assert!(q.rest.is_none());
        q.push_back(7);
        assert!(q.rest.is_none(), "one item stays in place");
    }

    #[test]
    fn front_iter_and_len_see_the_oldest_item_first() {
        let mut q: Queue<u8> = Queue::default();
        assert_eq!(q.front_mut(), None);
        assert_eq!(q.len(), 0);
        q.push_back(1);
        assert!(!q.is_empty());
        assert_eq!(q.len(), 1);
        q.push_back(2);
        *q.front_mut().expect("an item") += 10;
        assert_eq!(q.iter().copied().collect::<Vec<_>>(), [11, 2]);
        assert_eq!(q.pop_front(), Some(11));
        // The oldest item now sits in the spill.
        assert_eq!(q.front_mut(), Some(&mut 2));
        assert_eq!(q.len(), 1);
        assert!(!q.is_empty());
        assert_eq!(q.iter().copied().collect::<Vec<_>>(), [2]);
        assert_eq!(q.next(), Some(2));
        assert_eq!(q.next(), None);
        assert!(q.is_empty());
    }
}
