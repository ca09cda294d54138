//! The recording stream (`record_input`): a camera's main stream, read on a thread of its own
//! for its packets alone while its sub stream (`input`) is decoded and analysed. Motion calls
//! it `netcam_high_url`, Frigate the record role.
//!
//! The two streams line up by arrival: each packet is stamped on the clock the detect stream's
//! frames use (time since the run started), and the recorder takes, with each analysed frame,
//! the packets that had arrived by then. Both streams of one camera leave it together, so
//! arrival is what relates them; their own timestamps have unrelated origins.
//!
//! Like the detect stream, a lost recording stream is reported and reopened with backoff, and
//! neither stream waits for the other. Packets wait in a bounded queue: when nobody takes them
//! (the detect stream is itself lost), the oldest are not kept, and the recorder is told of the
//! gap so that it starts again at a keyframe.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use tracing::{info, warn};

use motion_event::backoff::Backoff;

use super::libav::PacketReader;
use super::supervise::{sleep_unless_stopped, FIRST_RETRY};
use super::{CaptureConfig, CaptureError, Input, Packet, StreamCopy, StreamInfo};

/// Packets kept for the recorder before the oldest give way (a few seconds of video).
const QUEUE_PACKETS: usize = 256;

/// What happened on the recording stream, in order.
pub enum RecordFeed {
    /// The stream is (again) delivering; its packets follow.
    Found { info: StreamInfo, copy: StreamCopy },
    /// A packet, stamped with its arrival (time since the run started).
    Packet { packet: Packet, at: Duration },
    /// Packets were left out here (nobody took them in time): start again at a keyframe.
    Gap,
    /// The stream could not be opened or stopped; another try follows.
    Lost { reason: String, retry_in: Duration },
}

#[derive(Default)]
struct Queue {
    feed: VecDeque<RecordFeed>,
    packets: usize,
    /// Packets were dropped since the last one queued: the next queued one is a keyframe
    /// after a `Gap`.
    gapped: bool,
}

impl Queue {
    fn push(&mut self, feed: RecordFeed) {
        if let RecordFeed::Found { .. } = &feed {
            // A new connection starts at a keyframe of its own.
            self.gapped = false;
        }
        if let RecordFeed::Packet { packet, .. } = &feed {
            if self.packets >= QUEUE_PACKETS {
                self.gapped = true;
                return;
            }
            if self.gapped {
                if !packet.is_key() {
                    return;
                }
                self.gapped = false;
                self.feed.push_back(RecordFeed::Gap);
            }
            self.packets += 1;
        }
        self.feed.push_back(feed);
    }
}

/// The thread that follows the recording stream; stops when dropped.
pub struct RecordStream {
    queue: Arc<Mutex<Queue>>,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl RecordStream {
    /// Starts following `config.record_input` (which must be set and valid); packet times are
    /// measured from `epoch`, the detect stream's origin.
    pub fn start(config: &CaptureConfig, epoch: Instant) -> Result<RecordStream, CaptureError> {
        config.validate()?;
        let Some(url) = config.record_input.clone() else {
            return Err(CaptureError::Setting {
                setting: "record_input",
                reason: "is not set".into(),
            });
        };
        let input = Input::parse(&url)?;
        let queue = Arc::new(Mutex::new(Queue::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let max = Duration::from_secs(config.reconnect_max_s);
        let thread = {
            let (queue, stop) = (Arc::clone(&queue), Arc::clone(&stop));
            thread::Builder::new()
                .name("record-stream".into())
                .spawn(move || follow(&input, max, epoch, &stop, &queue))
                .map_err(|e| CaptureError::io("the recording stream's thread", e))?
        };
        Ok(RecordStream {
            queue,
            stop,
            thread: Some(thread),
        })
    }

    /// Everything that happened since the last call, oldest first.
    pub fn take(&self) -> VecDeque<RecordFeed> {
        let mut queue = lock(&self.queue);
        queue.packets = 0;
        std::mem::take(&mut queue.feed)
    }
}

impl Drop for RecordStream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            // A live stream sends a packet every frame, and a dead one times out: not long.
            let _ = thread.join();
        }
    }
}

fn lock(queue: &Mutex<Queue>) -> MutexGuard<'_, Queue> {
    // The queue holds no invariant a panic elsewhere could break.
    queue
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn follow(input: &Input, max: Duration, epoch: Instant, stop: &AtomicBool, queue: &Mutex<Queue>) {
    let name = input.describe();
    let mut backoff = Backoff::new(FIRST_RETRY, max);
    while !stop.load(Ordering::Relaxed) {
        let reason = match PacketReader::open(input) {
            Ok(mut reader) => {
                let info = reader.info();
                info!(
                    input = name,
                    width = info.width,
                    height = info.height,
                    "recording stream found"
                );
                lock(queue).push(RecordFeed::Found {
                    info,
                    copy: reader.stream_copy(),
                });
                let mut delivered = false;
                let reason = loop {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    match reader.read() {
                        Ok(Some(packet)) => {
                            delivered = true;
                            let at = epoch.elapsed();
                            lock(queue).push(RecordFeed::Packet { packet, at });
                        }
                        Ok(None) => break format!("{name}: the stream ended"),
                        Err(err) => break err.to_string(),
                    }
                };
                if delivered {
                    backoff.reset();
                }
                reason
            }
            Err(err) => err.to_string(),
        };
        let retry_in = backoff.next_wait();
        warn!(
            reason,
            retry_in_s = retry_in.as_secs_f32(),
            "recording stream lost"
        );
        lock(queue).push(RecordFeed::Lost { reason, retry_in });
        sleep_unless_stopped(retry_in, stop);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(key: bool) -> RecordFeed {
        let mut packet = Packet::copy(&[0, 0, 0, 1, 0x65]);
        if key {
            packet.set_flags(ffmpeg_next::codec::packet::Flags::KEY);
        }
        RecordFeed::Packet {
            packet,
            at: Duration::ZERO,
        }
    }

    #[test]
    fn a_full_queue_drops_packets_and_resumes_at_a_keyframe_after_a_gap() {
        let mut queue = Queue::default();
        for _ in 0..QUEUE_PACKETS + 5 {
            queue.push(packet(false));
        }
        assert_eq!(queue.feed.len(), QUEUE_PACKETS);
        // Taken: room again, but what follows a gap must start at a keyframe.
        queue.feed.clear();
        queue.packets = 0;
        queue.push(packet(false));
        queue.push(RecordFeed::Lost {
            reason: "gone".into(),
            retry_in: Duration::from_secs(1),
        });
        queue.push(packet(true));
        queue.push(packet(false));
        let kinds: Vec<&str> = queue
            .feed
            .iter()
            .map(|f| match f {
                RecordFeed::Found { .. } => "found",
                RecordFeed::Packet { packet, .. } if packet.is_key() => "key",
                RecordFeed::Packet { .. } => "delta",
                RecordFeed::Gap => "gap",
                RecordFeed::Lost { .. } => "lost",
            })
            .collect();
        assert_eq!(kinds, ["lost", "gap", "key", "delta"]);
    }
}
