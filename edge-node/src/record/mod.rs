//! Recording: what is kept of an event. A JPEG snapshot of the trigger frame, written the moment
//! the event starts (so the alert need not wait for the clip), and an MP4 clip (`+faststart`)
//! split into parts at `max_clip_s`. From an H.264/H.265 camera the clip is its own packets
//! ([`copy`]: from the keyframe at or before the pre-capture to the event's end); from a raw
//! camera, the pre-capture frames and every frame the detector marks `save`, encoded to H.264
//! yuv420p ([`encoder`]).
//!
//! Finished files land in the spool folder ([`spool`]) together with a JSON sidecar, for the
//! delivery stage to pick up. Files appear there atomically (written elsewhere, then renamed),
//! so the delivery stage never sees half a clip.
//!
//! Not here: deciding what is motion (`detect`) or sending anything anywhere.

mod copy;
mod encoder;
mod mp4;
mod snapshot;
pub mod spool;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tracing::{error, info, warn};

use crate::capture::{Frame, Packet, StreamCopy, StreamInfo};
use crate::detect::FrameVerdict;

use self::copy::{ClipMuxer, PacketRing};
use self::encoder::{ClipEncoder, EncoderChoice};
use self::spool::{EventStamp, Spool, SpoolItem};

/// libx264's speed presets, fastest first.
const X264_PRESETS: [&str; 10] = [
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
    "placebo",
];

/// The `[record]` section of the edge node's config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecordConfig {
    /// Where finished snapshots and clips wait for delivery. Default `/var/lib/edge-node/spool`.
    pub spool_dir: PathBuf,
    /// Most disk the spool may use, in MiB. When it is full, new events are still detected and
    /// reported, but not recorded, and this is logged loudly: files that were not delivered yet
    /// are never deleted to make room. Default 1024.
    pub spool_max_mib: u64,
    /// Longest clip, in seconds (Motion's `movie_max_time`); longer events are split into parts
    /// with the same event id. Default 120.
    pub max_clip_s: u64,
    /// `auto` (default): the Pi's hardware encoder `h264_v4l2m2m` when libavcodec has it and the
    /// device is there, else `libx264`. Or name one of the two.
    pub encoder: String,
    /// libx264's constant quality (0-51, lower is better). Default 23.
    pub crf: u8,
    /// libx264's speed preset. Default `ultrafast`: measured by bench/daemon on a raw 640x480
    /// camera it costs a third of `veryfast`'s CPU and 65 % of its memory, and its clips are
    /// still smaller than Motion's (which encodes ultrafast at crf 20); `veryfast` makes clips
    /// half as big for 3x the CPU. A Pi Zero should use the hardware encoder.
    pub preset: String,
    /// Bit rate for the hardware encoder, in kbit/s. Default 2000.
    pub bitrate_kbps: u32,
    /// JPEG quality of snapshots (1-100). Default 85.
    pub snapshot_quality: u8,
    /// Store an H.264 or H.265 camera's own packets in the clip instead of encoding the frames
    /// again (Motion's `movie_passthrough`): no encoder at all, the camera's quality, a tenth
    /// of the CPU. The clip then starts at the keyframe at or before the pre-capture, and a
    /// long event is split at the first keyframe after `max_clip_s`. Raw cameras, and inputs
    /// the ffmpeg program decodes (resized, re-timed), are always encoded. Default true.
    pub passthrough: bool,
}

impl Default for RecordConfig {
    fn default() -> Self {
        RecordConfig {
            spool_dir: "/var/lib/edge-node/spool".into(),
            spool_max_mib: 1024,
            max_clip_s: 120,
            encoder: "auto".into(),
            crf: 23,
            preset: "ultrafast".into(),
            bitrate_kbps: 2000,
            snapshot_quality: 85,
            passthrough: true,
        }
    }
}

impl RecordConfig {
    pub fn validate(&self) -> Result<(), RecordError> {
        let bad = |setting: &'static str, reason: String| RecordError::Setting { setting, reason };
        EncoderChoice::parse(&self.encoder).map_err(|r| bad("encoder", r))?;
        if !X264_PRESETS.contains(&self.preset.as_str()) {
            return Err(bad(
                "preset",
                format!(
                    "`{}` is not one of {}",
                    self.preset,
                    X264_PRESETS.join(", ")
                ),
            ));
        }
        if self.crf > 51 {
            return Err(bad("crf", format!("must be 0-51, not {}", self.crf)));
        }
        if !(1..=100).contains(&self.snapshot_quality) {
            return Err(bad(
                "snapshot_quality",
                format!("must be 1-100, not {}", self.snapshot_quality),
            ));
        }
        if self.max_clip_s == 0 {
            return Err(bad("max_clip_s", "must be at least 1".into()));
        }
        if self.spool_max_mib == 0 {
            return Err(bad("spool_max_mib", "must be at least 1".into()));
        }
        Ok(())
    }
}

/// Recording failed. The event itself was still detected.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("record setting `{setting}`: {reason}")]
    Setting {
        setting: &'static str,
        reason: String,
    },
    #[error("{what} {path}: {error}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        error: std::io::Error,
    },
    #[error("encoder: {0}")]
    Encoder(String),
    #[error("snapshot: {0}")]
    Snapshot(String),
}

/// A copy of one frame waiting in the pre-capture ring.
#[derive(Default)]
struct Kept {
    luma: Vec<u8>,
    chroma: Vec<u8>,
}

/// How clips are made from this camera.
enum Store {
    /// Frames encoded again, with the last `ring_len` frames kept for pre-capture.
    Encode {
        encoder: EncoderChoice,
        ring: VecDeque<Kept>,
        ring_len: usize,
    },
    /// The camera's packets as they are, with whole groups of pictures kept for pre-capture.
    Copy { copy: StreamCopy, ring: PacketRing },
}

enum Clip {
    Encoded(ClipEncoder),
    Copied(ClipMuxer),
}

struct Open {
    event: EventStamp,
    part: u32,
    clip: Option<Clip>,
    clip_started: Duration,
    /// The clip (part) starts anew: at the next keyframe when copying (nothing to start from
    /// yet, or the source changed), at the next saved frame when encoding.
    awaiting_key: bool,
}

/// Turns frames and verdicts into snapshots and clips in the spool.
pub struct Recorder {
    config: RecordConfig,
    spool: Spool,
    info: StreamInfo,
    ring_len: usize,
    /// This camera's own stream, when its packets can be stored.
    own: Option<StreamCopy>,
    store: Store,
    open: Option<Open>,
}

impl Recorder {
    /// `ring_len`: frames to keep for pre-capture (`pre_capture + minimum_motion_frames - 1`).
    /// `copy`: the camera's stream, when its packets can be stored as they are. `main`: another
    /// stream whose packets make the clips instead, while it is up (see [`Self::set_source`]).
    pub fn new(
        config: &RecordConfig,
        info: StreamInfo,
        ring_len: usize,
        copy: Option<StreamCopy>,
        main: Option<StreamCopy>,
    ) -> Result<Recorder, RecordError> {
        config.validate()?;
        let spool = Spool::open(&config.spool_dir, config.spool_max_mib * 1024 * 1024)?;
        let store = Self::store(config, info, ring_len, main.or_else(|| copy.clone()))?;
        Ok(Recorder {
            config: config.clone(),
            spool,
            info,
            ring_len,
            own: copy,
            store,
            open: None,
        })
    }

    fn store(
        config: &RecordConfig,
        info: StreamInfo,
        ring_len: usize,
        copy: Option<StreamCopy>,
    ) -> Result<Store, RecordError> {
        Ok(match copy {
            Some(copy) if config.passthrough => {
                // Half a frame less: a keyframe stamped a hair after the pre-capture's start
                // (rounding, a camera's jittery stamps) still counts as at it.
                let frames = (ring_len as f64 - 0.5).max(0.0);
                let keep = Duration::from_secs_f64(frames / info.fps.max(0.1));
                info!(codec = ?copy.codec, spool = %config.spool_dir.display(), "recorder ready: clips are the camera's own packets (passthrough)");
                Store::Copy {
                    ring: PacketRing::new(copy.time_base, keep),
                    copy,
                }
            }
            _ => {
                let encoder = EncoderChoice::parse(&config.encoder)
                    .map_err(|reason| RecordError::Setting {
                        setting: "encoder",
                        reason,
                    })?
                    .resolve();
                info!(encoder = encoder.name(), spool = %config.spool_dir.display(), "recorder ready");
                Store::Encode {
                    encoder,
                    ring: VecDeque::with_capacity(ring_len + 1),
                    ring_len,
                }
            }
        })
    }

    /// Switches where clips come from: `Some`, another stream's packets (the camera's main
    /// stream, which then arrive in each frame's `packets`); `None`, back to this camera's own
    /// packets or frames. An open clip is finished with what it has, and the event goes on in
    /// a new part from the next keyframe (or saved frame). Returns the finished files.
    pub fn set_source(&mut self, copy: Option<StreamCopy>) -> Result<Vec<SpoolItem>, RecordError> {
        let done: Vec<SpoolItem> = self.finish_part()?.into_iter().collect();
        if let Some(open) = &mut self.open {
            if !done.is_empty() {
                open.part += 1;
            }
            open.clip = None;
            open.awaiting_key = true;
        }
        let copy = copy.or_else(|| self.own.clone());
        self.store = Self::store(&self.config, self.info, self.ring_len, copy)?;
        Ok(done)
    }

    /// Feeds one frame (with chroma, and the packets it came from) and the detector's verdict
    /// on it. Returns the files that were finished in the spool.
    pub fn on_frame(
        &mut self,
        frame: &mut Frame,
        verdict: &FrameVerdict,
    ) -> Result<Vec<SpoolItem>, RecordError> {
        let mut done = Vec::new();
        if verdict.event_end.is_some() {
            done.extend(self.close()?);
        }
        // Stream copy: every packet goes through the ring, which so always holds what the next
        // pre-capture needs, even during an event: a camera with long groups of pictures may
        // send no keyframe between this event's end and the next one's start.
        let fresh = match &mut self.store {
            Store::Copy { ring, .. } => {
                let fresh = frame.packets.len();
                for packet in std::mem::take(&mut frame.packets) {
                    ring.push(packet);
                }
                ring.trim(frame.pts);
                fresh
            }
            Store::Encode { .. } => 0,
        };
        if let Some(start) = verdict.event_start {
            let event = EventStamp::new(uuid::Uuid::now_v7().to_string(), start.at);
            done.extend(self.snapshot(&event, frame));
            self.open = Some(Open {
                event,
                part: 1,
                clip: None,
                clip_started: start.at,
                awaiting_key: false,
            });
            // Copying, this takes the whole ring, this frame's packets included.
            self.start_clip(Some(start.pre_frames), start.at);
        }
        if matches!(self.store, Store::Copy { .. }) {
            if verdict.event_start.is_none() {
                done.extend(self.copy_latest(fresh, frame.at)?);
            }
        } else {
            if verdict.save {
                done.extend(self.write(frame)?);
            }
            if self.open.is_none() || !verdict.save {
                self.keep(frame);
            }
        }
        Ok(done)
    }

    /// The open event's id, if an event is open.
    pub fn event_id(&self) -> Option<&str> {
        self.open.as_ref().map(|open| open.event.event_id.as_str())
    }

    /// Closes the open clip, if any (end of input, shutdown).
    pub fn finish(&mut self) -> Result<Vec<SpoolItem>, RecordError> {
        self.close()
    }

    fn snapshot(&mut self, event: &EventStamp, frame: &Frame) -> Option<SpoolItem> {
        let jpeg = match snapshot::encode(&self.info, frame, self.config.snapshot_quality) {
            Ok(jpeg) => jpeg,
            Err(err) => {
                error!(%err, "snapshot not written");
                return None;
            }
        };
        match self.spool.put_bytes(event, spool::Kind::Snapshot, 0, &jpeg) {
            Ok(item) => Some(item),
            Err(err) => {
                error!(%err, "snapshot not spooled");
                None
            }
        }
    }

    /// Starts the open event's clip (part) with its pre-capture: the last `pre` ring frames
    /// when encoding (`None`: none), the whole packet ring when copying.
    fn start_clip(&mut self, pre: Option<u32>, at: Duration) {
        let Some(open) = &mut self.open else { return };
        if let Err(err) = self.spool.check_room() {
            error!(%err, event_id = open.event.event_id, "spool is full: this event is NOT recorded");
            return;
        }
        let path = self.spool.partial_path(&open.event.event_id, open.part);
        open.clip_started = at;
        match &mut self.store {
            Store::Encode { encoder, ring, .. } => {
                match ClipEncoder::start(encoder, &self.config, &self.info, &path) {
                    Ok(mut clip) => {
                        let pre = pre
                            .map_or(0, |p| usize::try_from(p).unwrap_or(usize::MAX))
                            .min(ring.len());
                        for kept in ring.iter().skip(ring.len() - pre) {
                            if let Err(err) = clip.write(&kept.luma, &kept.chroma) {
                                warn!(%err, "pre-capture frame not recorded");
                            }
                        }
                        open.clip = Some(Clip::Encoded(clip));
                    }
                    Err(err) => error!(%err, event_id = open.event.event_id, "clip not recorded"),
                }
                ring.clear();
            }
            Store::Copy { copy, ring } => {
                let packets = ring.all();
                if packets.is_empty() {
                    open.awaiting_key = true;
                    return;
                }
                match Self::start_copy(copy, &path, packets) {
                    Ok(muxer) => open.clip = Some(Clip::Copied(muxer)),
                    Err(err) => error!(%err, event_id = open.event.event_id, "clip not recorded"),
                }
            }
        }
    }

    fn start_copy(
        copy: &StreamCopy,
        path: &std::path::Path,
        packets: Vec<Packet>,
    ) -> Result<ClipMuxer, RecordError> {
        let mut muxer = ClipMuxer::start(copy, path)?;
        for packet in packets {
            muxer.write(packet)?;
        }
        Ok(muxer)
    }

    /// Stream copy during an event: the newest `fresh` packets of the ring go into the clip. A
    /// part longer than `max_clip_s` ends before a keyframe, where the next part starts; a clip
    /// that had nothing to start from starts at the first keyframe.
    fn copy_latest(&mut self, fresh: usize, at: Duration) -> Result<Vec<SpoolItem>, RecordError> {
        let mut done = Vec::new();
        let packets = match (&self.store, &self.open) {
            (Store::Copy { ring, .. }, Some(_)) => ring.latest(fresh),
            _ => return Ok(done),
        };
        let max = Duration::from_secs(self.config.max_clip_s);
        for packet in packets {
            let key = packet.is_key();
            let Some(open) = &mut self.open else {
                return Ok(done);
            };
            if key && open.clip.is_some() && at.saturating_sub(open.clip_started) >= max {
                done.extend(self.finish_part()?);
                if let Some(open) = &mut self.open {
                    open.part += 1;
                    open.awaiting_key = true;
                }
            }
            let Some(open) = &mut self.open else {
                return Ok(done);
            };
            if open.awaiting_key {
                if !key {
                    continue;
                }
                open.awaiting_key = false;
                self.start_clip(None, at);
            }
            let Some(open) = &mut self.open else {
                return Ok(done);
            };
            if let Some(Clip::Copied(muxer)) = &mut open.clip {
                if let Err(err) = muxer.write(packet) {
                    error!(%err, "clip broke off");
                    open.clip = None;
                }
            }
        }
        Ok(done)
    }

    fn write(&mut self, frame: &Frame) -> Result<Vec<SpoolItem>, RecordError> {
        let mut done = Vec::new();
        let Some(open) = &mut self.open else {
            return Ok(done);
        };
        if frame.at.saturating_sub(open.clip_started) >= Duration::from_secs(self.config.max_clip_s)
        {
            done.extend(self.finish_part()?);
            if let Some(open) = &mut self.open {
                open.part += 1;
            }
            self.start_clip(None, frame.at);
        } else if open.awaiting_key {
            open.awaiting_key = false;
            self.start_clip(None, frame.at);
        }
        if let Some(open) = &mut self.open {
            if let Some(Clip::Encoded(clip)) = &mut open.clip {
                if let Err(err) = clip.write(&frame.luma, &frame.chroma) {
                    error!(%err, "clip broke off");
                    open.clip = None;
                }
            }
        }
        Ok(done)
    }

    fn finish_part(&mut self) -> Result<Option<SpoolItem>, RecordError> {
        let Some(open) = &mut self.open else {
            return Ok(None);
        };
        let Some(clip) = open.clip.take() else {
            return Ok(None);
        };
        let (partial, duration) = match clip {
            Clip::Encoded(clip) => {
                let frames = clip.frames();
                let partial = clip.finish()?;
                (
                    partial,
                    Duration::from_secs_f64(frames as f64 / self.info.fps),
                )
            }
            Clip::Copied(muxer) => muxer.finish()?,
        };
        let item = self
            .spool
            .commit_clip(&open.event, open.part, duration, &partial)?;
        Ok(Some(item))
    }

    fn close(&mut self) -> Result<Vec<SpoolItem>, RecordError> {
        let item = self.finish_part()?;
        self.open = None;
        Ok(item.into_iter().collect())
    }

    fn keep(&mut self, frame: &Frame) {
        let Store::Encode { ring, ring_len, .. } = &mut self.store else {
            return;
        };
        if *ring_len == 0 {
            return;
        }
        // Reuse the oldest frame's buffers once the ring is full.
        let mut kept = if ring.len() >= *ring_len {
            ring.pop_front().unwrap_or_default()
        } else {
            Kept::default()
        };
        kept.luma.clone_from(&frame.luma);
        kept.chroma.clone_from(&frame.chroma);
        ring.push_back(kept);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_encoder_preset_is_named_with_the_known_ones() {
        let config = RecordConfig {
            preset: "turbo".into(),
            ..RecordConfig::default()
        };
        let text = config.validate().err().map(|e| e.to_string());
        assert!(
            text.as_deref().is_some_and(|t| t.contains("`preset`")
                && t.contains("turbo")
                && t.contains("ultrafast")),
            "{text:?}"
        );
        assert!(RecordConfig::default().validate().is_ok());
    }
}
