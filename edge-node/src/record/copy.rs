//! Passthrough (Motion's `movie_passthrough`): the clip of an H.264 or H.265 camera is the
//! camera's own packets, byte for byte, put into an MP4 by libavformat in this process. Nothing
//! is encoded again: the clip costs no encoder CPU or memory and loses no quality, and the
//! pre-capture is kept as packets (a few hundred kB), not as raw frames.
//!
//! A decoder can start only at a keyframe, so the ring keeps whole groups of pictures: from the
//! newest keyframe at or before `pre_capture` back, and parts of long events are split at
//! keyframes.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ffmpeg_next as av;

use crate::capture::{Packet, StreamCopy};

use super::mp4::Mp4;
use super::RecordError;

/// A packet's time in its stream's time base: presentation, else decoding time.
fn stamp(packet: &Packet) -> Option<i64> {
    packet.pts().or(packet.dts())
}

fn seconds(ticks: i64, time_base: av::Rational) -> f64 {
    ticks as f64 * f64::from(time_base.numerator()) / f64::from(time_base.denominator().max(1))
}

/// The pre-capture as packets: groups of pictures, each starting at a keyframe.
pub(super) struct PacketRing {
    gops: VecDeque<Vec<Packet>>,
    time_base: av::Rational,
    /// How far back from the newest packet a keyframe must reach.
    keep: Duration,
}

impl PacketRing {
    pub(super) fn new(time_base: av::Rational, keep: Duration) -> PacketRing {
        PacketRing {
            gops: VecDeque::new(),
            time_base,
            keep,
        }
    }

    pub(super) fn push(&mut self, packet: Packet) {
        if packet.is_key() {
            self.gops.push_back(vec![packet]);
        } else if let Some(gop) = self.gops.back_mut() {
            gop.push(packet);
        }
        // Before the first keyframe nothing can be decoded: nothing to keep.
    }

    /// Drops the oldest group while the next one still starts `keep` or more before `now`: the
    /// stamp of the frame just decoded (the newest packet's when unknown). Not the newest
    /// packet's: with B-frames the decoder reads several frames ahead of what it shows.
    pub(super) fn trim(&mut self, now: Option<i64>) {
        let newest = now.or_else(|| self.gops.back().and_then(|g| g.last()).and_then(stamp));
        let Some(newest) = newest else {
            return;
        };
        let newest = seconds(newest, self.time_base);
        while let Some(start) = self.gops.get(1).and_then(|g| g.first()).and_then(stamp) {
            if newest - seconds(start, self.time_base) >= self.keep.as_secs_f64() {
                self.gops.pop_front();
            } else {
                break;
            }
        }
    }

    /// A copy of everything kept, oldest first (starting at a keyframe).
    pub(super) fn all(&self) -> Vec<Packet> {
        self.gops.iter().flatten().cloned().collect()
    }

    /// A copy of the newest `n` packets, oldest first.
    pub(super) fn latest(&self, n: usize) -> Vec<Packet> {
        let mut newest = Vec::with_capacity(n);
        let mut left = n;
        for gop in self.gops.iter().rev() {
            if left == 0 {
                break;
            }
            let from = gop.len().saturating_sub(left);
            left -= gop.len() - from;
            newest.splice(0..0, gop[from..].iter().cloned());
        }
        newest
    }

    #[cfg(test)]
    fn first_stamp(&self) -> Option<i64> {
        self.gops.front().and_then(|g| g.first()).and_then(stamp)
    }
}

/// An MP4 being written from a camera's packets.
pub(super) struct ClipMuxer {
    mp4: Mp4,
    time_base: av::Rational,
    fps: f64,
    /// The first packet's decoding time: the clip's timestamps start at 0.
    offset: Option<i64>,
    last_dts: Option<i64>,
    first_pts: Option<i64>,
    last_pts: Option<i64>,
    packets: u64,
}

impl ClipMuxer {
    pub(super) fn start(copy: &StreamCopy, path: &Path) -> Result<ClipMuxer, RecordError> {
        Ok(ClipMuxer {
            mp4: Mp4::create(path, copy.parameters.clone(), copy.time_base)?,
            time_base: copy.time_base,
            fps: copy.fps,
            offset: None,
            last_dts: None,
            first_pts: None,
            last_pts: None,
            packets: 0,
        })
    }

    pub(super) fn write(&mut self, mut packet: Packet) -> Result<(), RecordError> {
        let Some(dts) = packet.dts().or(packet.pts()) else {
            // A packet with no time at all cannot be placed; the decoder will conceal it.
            return Ok(());
        };
        let pts = packet.pts().unwrap_or(dts);
        let offset = *self.offset.get_or_insert(dts);
        // MP4 needs strictly increasing decoding times; a camera's stamps can repeat.
        let mut dts = dts - offset;
        if let Some(last) = self.last_dts {
            dts = dts.max(last + 1);
        }
        let pts = (pts - offset).max(dts);
        self.last_dts = Some(dts);
        self.first_pts = Some(self.first_pts.map_or(pts, |f| f.min(pts)));
        self.last_pts = Some(self.last_pts.map_or(pts, |l| l.max(pts)));
        packet.set_dts(Some(dts));
        packet.set_pts(Some(pts));
        self.mp4.write(packet, self.time_base)?;
        self.packets += 1;
        Ok(())
    }

    /// Writes the index; returns the file and how long the clip plays.
    pub(super) fn finish(self) -> Result<(PathBuf, Duration), RecordError> {
        if self.packets == 0 {
            return Err(RecordError::Encoder("stream copy: no packets".into()));
        }
        let span = match (self.first_pts, self.last_pts) {
            (Some(first), Some(last)) => seconds(last - first, self.time_base),
            _ => 0.0,
        };
        // The last frame shows for one frame interval.
        let duration = span.max(0.0) + 1.0 / self.fps.max(0.1);
        let path = self.mp4.finish()?;
        Ok((path, Duration::from_secs_f64(duration)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A packet stamped `at` in a 1/90000 time base (RTP's).
    fn packet(at: i64, key: bool) -> Packet {
        let mut p = Packet::copy(&[0, 0, 0, 1, 0x65]);
        p.set_pts(Some(at));
        p.set_dts(Some(at));
        if key {
            p.set_flags(av::codec::packet::Flags::KEY);
        }
        p
    }

    const TICKS: i64 = 90_000;

    #[test]
    fn the_ring_starts_at_the_newest_keyframe_at_or_before_the_pre_capture() {
        let mut ring = PacketRing::new(av::Rational::new(1, 90_000), Duration::from_secs(1));
        // 10 fps, a keyframe every 2 s, for 7 s.
        for i in 0..70 {
            ring.push(packet(i * TICKS / 10, i % 20 == 0));
            ring.trim(None);
        }
        // Newest at 6.9 s; 1 s back is 5.9 s; the keyframe at or before that is at 4 s.
        assert_eq!(ring.first_stamp(), Some(4 * TICKS));
        let packets = ring.all();
        assert!(packets[0].is_key());
        assert_eq!(packets.len(), 30);
        let latest = ring.latest(12);
        assert_eq!(latest.len(), 12);
        assert_eq!(stamp(&latest[0]), Some(58 * TICKS / 10));
        assert_eq!(ring.latest(100).len(), 30);
    }

    #[test]
    fn packets_before_the_first_keyframe_are_not_kept() {
        let mut ring = PacketRing::new(av::Rational::new(1, 90_000), Duration::from_secs(1));
        ring.push(packet(0, false));
        ring.push(packet(TICKS / 10, false));
        assert_eq!(ring.first_stamp(), None);
        ring.push(packet(2 * TICKS / 10, true));
        ring.push(packet(3 * TICKS / 10, false));
        assert_eq!(ring.first_stamp(), Some(2 * TICKS / 10));
        assert_eq!(ring.all().len(), 2);
    }

    #[test]
    fn the_ring_is_trimmed_to_the_frame_shown_not_the_packet_read_ahead() {
        let mut ring = PacketRing::new(av::Rational::new(1, 90_000), Duration::from_secs(1));
        // Keyframes at 0 s and 1 s; the decoder has read up to 2.5 s but shows 1.9 s.
        for i in 0..=25 {
            ring.push(packet(i * TICKS / 10, i % 10 == 0));
        }
        ring.trim(Some(19 * TICKS / 10));
        // 1 s before 1.9 s is 0.9 s: the keyframe at or before that is the one at 0 s.
        assert_eq!(ring.first_stamp(), Some(0));
        ring.trim(Some(2 * TICKS));
        assert_eq!(ring.first_stamp(), Some(TICKS));
    }
}
