//! Recording: what is kept of an event. A JPEG snapshot of the trigger frame, written the moment
//! the event starts (so the alert need not wait for the clip), and an MP4 clip (H.264, yuv420p,
//! `+faststart`) of the pre-capture frames, every frame the detector marks `save`, split into
//! parts at `max_clip_s`.
//!
//! Finished files land in the spool folder ([`spool`]) together with a JSON sidecar, for the
//! delivery stage to pick up. Files appear there atomically (written elsewhere, then renamed),
//! so the delivery stage never sees half a clip.
//!
//! Not here: deciding what is motion (`detect`) or sending anything anywhere.

mod encoder;
mod snapshot;
pub mod spool;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tracing::{error, info, warn};

use crate::capture::{Frame, StreamInfo};
use crate::detect::FrameVerdict;

use self::encoder::{ClipEncoder, EncoderChoice};
use self::spool::{EventStamp, Spool, SpoolItem};

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
    /// `auto` (default): the Pi's hardware encoder `h264_v4l2m2m` when ffmpeg has it and the
    /// device is there, else `libx264`. Or name one of the two.
    pub encoder: String,
    /// libx264's constant quality (0-51, lower is better). Default 23.
    pub crf: u8,
    /// libx264's speed preset. Default `veryfast` (a Pi Zero should use the hardware encoder).
    pub preset: String,
    /// Bit rate for the hardware encoder, in kbit/s. Default 2000.
    pub bitrate_kbps: u32,
    /// JPEG quality of snapshots (1-100). Default 85.
    pub snapshot_quality: u8,
}

impl Default for RecordConfig {
    fn default() -> Self {
        RecordConfig {
            spool_dir: "/var/lib/edge-node/spool".into(),
            spool_max_mib: 1024,
            max_clip_s: 120,
            encoder: "auto".into(),
            crf: 23,
            preset: "veryfast".into(),
            bitrate_kbps: 2000,
            snapshot_quality: 85,
        }
    }
}

impl RecordConfig {
    pub fn validate(&self) -> Result<(), RecordError> {
        let bad = |setting: &'static str, reason: String| RecordError::Setting { setting, reason };
        EncoderChoice::parse(&self.encoder).map_err(|r| bad("encoder", r))?;
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

struct Open {
    event: EventStamp,
    part: u32,
    clip: Option<ClipEncoder>,
    clip_started: Duration,
}

/// Turns frames and verdicts into snapshots and clips in the spool.
pub struct Recorder {
    config: RecordConfig,
    encoder: EncoderChoice,
    ffmpeg: PathBuf,
    spool: Spool,
    info: StreamInfo,
    /// The last `ring_len` frames before the current one, for pre-capture.
    ring: VecDeque<Kept>,
    ring_len: usize,
    open: Option<Open>,
}

impl Recorder {
    /// `ring_len`: frames to keep for pre-capture (`pre_capture + minimum_motion_frames - 1`).
    pub fn new(
        config: &RecordConfig,
        ffmpeg: PathBuf,
        info: StreamInfo,
        ring_len: usize,
    ) -> Result<Recorder, RecordError> {
        config.validate()?;
        let spool = Spool::open(&config.spool_dir, config.spool_max_mib * 1024 * 1024)?;
        let encoder = EncoderChoice::parse(&config.encoder)
            .map_err(|reason| RecordError::Setting {
                setting: "encoder",
                reason,
            })?
            .resolve(&ffmpeg);
        info!(encoder = encoder.name(), spool = %config.spool_dir.display(), "recorder ready");
        Ok(Recorder {
            config: config.clone(),
            encoder,
            ffmpeg,
            spool,
            info,
            ring: VecDeque::with_capacity(ring_len + 1),
            ring_len,
            open: None,
        })
    }

    /// Feeds one analysed frame (with chroma) and the detector's verdict on it. Returns the
    /// files that were finished in the spool.
    pub fn on_frame(
        &mut self,
        frame: &Frame,
        verdict: &FrameVerdict,
    ) -> Result<Vec<SpoolItem>, RecordError> {
        let mut done = Vec::new();
        if verdict.event_end.is_some() {
            done.extend(self.close()?);
        }
        if let Some(start) = verdict.event_start {
            let event = EventStamp::new(uuid::Uuid::now_v7().to_string(), start.at);
            let pre = usize::try_from(start.pre_frames)
                .unwrap_or(usize::MAX)
                .min(self.ring.len());
            done.extend(self.snapshot(&event, frame));
            self.open = Some(Open {
                event,
                part: 1,
                clip: None,
                clip_started: start.at,
            });
            self.start_clip(pre, start.at);
        }
        if verdict.save {
            done.extend(self.write(frame)?);
        }
        if self.open.is_none() || !verdict.save {
            self.keep(frame);
        }
        Ok(done)
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

    /// Starts the encoder for the open event and writes the last `pre` ring frames into it.
    fn start_clip(&mut self, pre: usize, at: Duration) {
        let Some(open) = &mut self.open else { return };
        if let Err(err) = self.spool.check_room() {
            error!(%err, event_id = open.event.event_id, "spool is full: this event is NOT recorded");
            return;
        }
        let path = self.spool.partial_path(&open.event.event_id, open.part);
        match ClipEncoder::start(&self.ffmpeg, &self.encoder, &self.config, &self.info, &path) {
            Ok(mut clip) => {
                let skip = self.ring.len() - pre;
                for kept in self.ring.iter().skip(skip) {
                    if let Err(err) = clip.write(&kept.luma, &kept.chroma) {
                        warn!(%err, "pre-capture frame not recorded");
                    }
                }
                open.clip = Some(clip);
                open.clip_started = at;
            }
            Err(err) => error!(%err, event_id = open.event.event_id, "clip not recorded"),
        }
        self.ring.clear();
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
            self.start_clip(0, frame.at);
        }
        if let Some(clip) = self.open.as_mut().and_then(|o| o.clip.as_mut()) {
            if let Err(err) = clip.write(&frame.luma, &frame.chroma) {
                error!(%err, "clip broke off");
                if let Some(open) = &mut self.open {
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
        let frames = clip.frames();
        let partial = clip.finish()?;
        let duration = Duration::from_secs_f64(frames as f64 / self.info.fps);
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
        if self.ring_len == 0 {
            return;
        }
        // Reuse the oldest frame's buffers once the ring is full.
        let mut kept = if self.ring.len() >= self.ring_len {
            self.ring.pop_front().unwrap_or_default()
        } else {
            Kept::default()
        };
        kept.luma.clone_from(&frame.luma);
        kept.chroma.clone_from(&frame.chroma);
        self.ring.push_back(kept);
    }
}
