//! The queue of what could not be published: order, each limit, what is dropped and counted,
//! ageing out on an injected clock (no sleeping, no broker).

use std::time::{Duration, Instant};

use socketio_adapter::{DroppedMessages, PublishQueue, QueueLimits};

fn limits(messages: usize, bytes: usize, age_secs: u64) -> QueueLimits {
    QueueLimits::new(messages, bytes, Duration::from_secs(age_secs))
}

fn items(queue: &mut PublishQueue<u32>) -> Vec<u32> {
    queue.take(usize::MAX).into_iter().map(|q| q.item).collect()
}

fn none() -> DroppedMessages {
    DroppedMessages::default()
}

#[test]
fn messages_come_out_in_the_order_they_went_in() {
    let t0 = Instant::now();
    let mut queue = PublishQueue::new(QueueLimits::default());
    for i in 0..100 {
        assert_eq!(queue.push(i, 10, t0), none());
    }
    assert_eq!((queue.len(), queue.bytes()), (100, 1000));
    let first: Vec<u32> = queue.take(30).into_iter().map(|q| q.item).collect();
    assert_eq!(first, (0..30).collect::<Vec<_>>());
    assert_eq!(items(&mut queue), (30..100).collect::<Vec<_>>());
    assert!(queue.is_empty());
    assert_eq!((queue.bytes(), queue.dropped()), (0, 0));
}

#[test]
fn a_failed_batch_goes_back_before_what_came_since() {
    let t0 = Instant::now();
    let mut queue = PublishQueue::new(QueueLimits::default());
    for i in 0..5 {
        let _ = queue.push(i, 1, t0);
    }
    let batch = queue.take(3);
    let _ = queue.push(5, 1, t0);
    assert_eq!(queue.put_back(batch, t0), none());
    assert_eq!(queue.bytes(), 6);
    assert_eq!(items(&mut queue), [0, 1, 2, 3, 4, 5]);
}

#[test]
fn over_the_message_limit_the_oldest_are_dropped_and_counted() {
    let t0 = Instant::now();
    let mut queue = PublishQueue::new(limits(3, 1000, 30));
    let mut dropped = 0;
    for i in 0..10 {
        dropped += queue.push(i, 1, t0).over_count;
    }
    assert_eq!(dropped, 7);
    assert_eq!(queue.dropped(), 7);
    assert_eq!(items(&mut queue), [7, 8, 9]);
}

#[test]
fn over_the_byte_limit_the_oldest_are_dropped_until_it_fits() {
    let t0 = Instant::now();
    let mut queue = PublishQueue::new(limits(100, 10, 30));
    assert_eq!(queue.push(1, 4, t0), none());
    assert_eq!(queue.push(2, 4, t0), none());
    // 4 + 4 + 5 > 10: the first goes; 4 + 5 fits.
    let dropped = queue.push(3, 5, t0);
    assert_eq!(dropped, DroppedMessages { over_bytes: 1, ..none() });
    assert_eq!(queue.bytes(), 9);
    // Exactly at the limit is within it.
    let dropped = queue.push(4, 1, t0);
    assert!(dropped.is_empty());
    assert_eq!(queue.bytes(), 10);
    assert_eq!(queue.dropped(), 1);
    assert_eq!(items(&mut queue), [2, 3, 4]);
}

#[test]
fn a_message_larger_than_the_byte_limit_is_dropped_by_itself() {
    let t0 = Instant::now();
    let mut queue = PublishQueue::new(limits(100, 10, 30));
    let _ = queue.push(1, 3, t0);
    assert_eq!(queue.push(2, 11, t0), DroppedMessages { over_bytes: 1, ..none() });
    assert_eq!(queue.dropped(), 1);
    assert_eq!(items(&mut queue), [1]);
}

#[test]
fn messages_older_than_the_age_limit_are_dropped() {
    let t0 = Instant::now();
    let mut queue = PublishQueue::new(limits(100, 1000, 30));
    let _ = queue.push(1, 1, t0);
    let _ = queue.push(2, 1, t0 + Duration::from_secs(10));
    let _ = queue.push(3, 1, t0 + Duration::from_secs(20));
    // Exactly at the limit is within it.
    assert_eq!(queue.expire(t0 + Duration::from_secs(30)), none());
    assert_eq!(queue.expire(t0 + Duration::from_secs(31)), DroppedMessages { too_old: 1, ..none() });
    // Pushing ages out too.
    let dropped = queue.push(4, 1, t0 + Duration::from_secs(45));
    assert_eq!(dropped, DroppedMessages { too_old: 1, ..none() });
    assert_eq!(queue.dropped(), 2);
    assert_eq!(items(&mut queue), [3, 4]);
}

#[test]
fn a_message_keeps_its_age_across_a_failed_attempt() {
    let t0 = Instant::now();
    let mut queue = PublishQueue::new(limits(100, 1000, 30));
    let _ = queue.push(1, 1, t0);
    let _ = queue.push(2, 1, t0 + Duration::from_secs(20));
    let batch = queue.take(2);
    assert_eq!(batch[0].queued_at, t0);
    let dropped = queue.put_back(batch, t0 + Duration::from_secs(40));
    assert_eq!(dropped, DroppedMessages { too_old: 1, ..none() });
    assert_eq!(items(&mut queue), [2]);
}

#[test]
fn putting_back_past_a_limit_drops_the_oldest() {
    let t0 = Instant::now();
    let mut queue = PublishQueue::new(limits(4, 1000, 30));
    for i in 0..4 {
        let _ = queue.push(i, 1, t0);
    }
    let batch = queue.take(2);
    let _ = queue.push(4, 1, t0);
    let _ = queue.push(5, 1, t0);
    assert_eq!(queue.put_back(batch, t0), DroppedMessages { over_count: 2, ..none() });
    assert_eq!(items(&mut queue), [2, 3, 4, 5]);
}

#[test]
fn disabled_limits_drop_everything_and_count_it() {
    let t0 = Instant::now();
    let mut queue = PublishQueue::new(QueueLimits::disabled());
    for i in 0..3 {
        assert_eq!(queue.push(i, 1, t0).total(), 1);
    }
    assert!(queue.is_empty());
    assert_eq!(queue.dropped(), 3);
}

#[test]
fn the_counts_read_as_the_reasons() {
    let dropped = DroppedMessages { over_count: 3, over_bytes: 0, too_old: 2 };
    assert_eq!(dropped.to_string(), "3 over the message limit, 2 older than the age limit");
    assert_eq!(dropped.total(), 5);
    assert_eq!(none().to_string(), "none");
}

#[test]
fn the_defaults_cover_a_few_seconds() {
    let limits = QueueLimits::default();
    assert_eq!(limits.max_messages, 10_000);
    assert_eq!(limits.max_bytes, 16 * 1024 * 1024);
    assert_eq!(limits.max_age, Duration::from_secs(30));
}
