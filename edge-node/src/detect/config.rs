//! The detector's settings (`[detect]` in the edge node's config): Motion 4.5's names, meanings and
//! defaults, so a `motion.conf` carries over line by line.
//!
//! Deliberate differences, each documented on its setting: motion is a moving object
//! (`object_size`, `object_frames`), so `threshold` defaults to 0 and counts the pixels of moving
//! objects; `threshold` may also be a share of the frame; `noise_tune` tunes each pixel's limit
//! to its own noise; `lightswitch_percent` is on by default and compensates the light change
//! (smaller ones too) instead of blinding the detector; `smart_mask_speed` is refused until it
//! is implemented.
//! This module only parses and checks; it does not read `mask_file` (the caller does, see
//! [`super::Mask`]).

use std::fmt;
use std::path::PathBuf;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::despeckle::Despeckle;
use super::error::DetectError;

/// Settings of the motion detector. Every field has a default, so an empty section is valid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectConfig {
    /// How many changed pixels (counted after `despeckle_filter`) of moving objects (see
    /// `object_size`) a frame needs to have motion: more than this. Either a pixel count, as in
    /// Motion (`threshold = 1500`; then it depends on the camera's resolution), or a share of the
    /// frame that holds at any resolution (`threshold = "0.5%"`). Default 0: any moving object
    /// counts. Motion's default is 1500, which at 640x480 misses people beyond mid-distance; set
    /// it to ignore small things that move (cats, birds).
    pub threshold: Threshold,
    /// Frames with at least this many changed pixels are not motion (a bumped camera, a spider on
    /// the lens). Same forms as `threshold`; `0` (default) turns the limit off.
    pub threshold_maximum: Threshold,
    /// Lower the working threshold towards the changed pixels seen in quiet frames (never above
    /// `threshold`), for scenes where a small subject must count. Default off, as in Motion.
    pub threshold_tune: bool,
    /// How much (1-255) a pixel's brightness must change to count as changed. Used as is when
    /// `noise_tune` is off, otherwise where every pixel's tuning starts. Default 32.
    pub noise_level: u8,
    /// Tune each pixel's level to that pixel's own measured noise, from every analysed frame:
    /// 3.5 × its mean difference to the reference (about 4 standard deviations), at least 7. A
    /// quiet dark wall gets a low level, so a person 15 levels darker than it still counts; a
    /// swaying branch or a noisy corner raises its own level until it stops counting. (Motion
    /// tunes one level for the whole frame, near 50 for a typical camera.) Default on.
    pub noise_tune: bool,
    /// Clean-up of the changed-pixel image, applied left to right: `E` erodes 3x3, `e` erodes
    /// with a plus, `D` dilates 3x3, `d` dilates with a plus. A final `l` labels connected areas
    /// and counts only areas larger than `threshold` (or, if none is, the largest one), so scattered
    /// noise does not add up to motion. Empty = no clean-up. Default `"EedDl"` (Motion's sample).
    /// The detector works on a half-size grid (2x2 pixels a cell), where a step reaches twice as
    /// far: each run of erosions or dilations counts half (`"EedD"` acts as `"ED"` there), so the
    /// filter removes and keeps what it would on full-size frames.
    pub despeckle_filter: String,
    /// A PGM image (P5 or P2) of the frames' size: white = full sensitivity, black = ignored,
    /// grey = partial. The edge node reads it; the detector gets its pixels. Default none.
    pub mask_file: Option<PathBuf>,
    /// Global light changes (a lamp switched on, the camera's exposure jumping): when more than
    /// this share (0-100 %) of the frame changes at once, the detector maps the reference frame's
    /// brightness onto the new frame's (per grey level, ignoring the minority of pixels that
    /// differ) and keeps detecting on what is left, so someone walking in while the light
    /// changes is still seen. Only if even the mapped reference leaves more than this share
    /// changed (the camera was moved, day/night switch) does it do what Motion does: take the new
    /// frame as reference and ignore `lightswitch_frames` frames. Default 50; 0 = off (then a
    /// light change is motion, as in Motion's default).
    pub lightswitch_percent: u8,
    /// Frames after a light change during which the brightness mapping stays on (cameras take a
    /// few frames to settle their exposure), or detection pauses after a reset. 1-1000, default 5.
    pub lightswitch_frames: u32,
    /// Consecutive motion frames needed to start an event; 1 (default) starts on the first one.
    /// Raise it to ignore single-frame glitches (insects, compression artefacts).
    pub minimum_motion_frames: u32,
    /// Seconds (of video time) without motion after which an event ends. 0 ends it as soon as the
    /// `post_capture` frames are over. Default 60.
    pub event_gap: u64,
    /// Frames before the first motion frame to include in the event's recording. Default 3
    /// (Motion's sample config; its built-in default is 0).
    pub pre_capture: u32,
    /// Frames after the last motion frame to include in the event's recording. Default 0.
    pub post_capture: u32,
    /// Frames analysed per second while nothing is going on; during motion and events every
    /// frame is analysed. Motion analyses about 3 a second above 5 fps; 5 keeps an event's start
    /// within 0.2 s for a third of the CPU of analysing 15. 0 = analyse every frame.
    pub analysis_fps: f64,
    /// The smallest thing to report, as `"WIDTHxHEIGHT"` in pixels of the frame: a changed area
    /// with at least a quarter of that many pixels can be an object. Default `"10x25"`: a person
    /// about 40 m away from a 640x480 camera with a 90° lens. Raise it to ignore birds and cats.
    pub object_size: ObjectSize,
    /// An area is a moving object once it moved (changed since the previous analysed frame, not
    /// only against the reference) in this many analysed frames, still (or too faint to see)
    /// for at most half a second in between. A ticking clock overlay, a light change and a
    /// compression artefact change once and stay; a person keeps moving. 1-100, default 3
    /// (0.2 s at 15 fps).
    pub object_frames: u32,
    /// Motion's self-learning mask for swaying trees. Not implemented yet: only 0 (off, the
    /// default) is accepted.
    pub smart_mask_speed: u8,
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            threshold: Threshold::Pixels(0),
            threshold_maximum: Threshold::Pixels(0),
            threshold_tune: false,
            noise_level: 32,
            noise_tune: true,
            despeckle_filter: "EedDl".into(),
            mask_file: None,
            lightswitch_percent: 50,
            lightswitch_frames: 5,
            minimum_motion_frames: 1,
            event_gap: 60,
            pre_capture: 3,
            post_capture: 0,
            analysis_fps: 5.0,
            object_size: ObjectSize {
                width: 10,
                height: 25,
            },
            object_frames: 3,
            smart_mask_speed: 0,
        }
    }
}

impl DetectConfig {
    /// Checks every setting on its own (sizes that depend on the camera's resolution are checked
    /// again by [`super::Detector::new`]). The error names the first bad setting.
    pub fn validate(&self) -> Result<(), DetectError> {
        if self.threshold_tune && self.threshold.is_zero() {
            return Err(DetectError::setting(
                "threshold_tune",
                "needs a threshold to tune down from (threshold is 0)",
            ));
        }
        let same_unit = match (self.threshold, self.threshold_maximum) {
            (Threshold::Pixels(low), Threshold::Pixels(high)) => {
                Some((f64::from(low), f64::from(high)))
            }
            (Threshold::Percent(low), Threshold::Percent(high)) => Some((low, high)),
            _ => None,
        };
        if let Some((low, high)) = same_unit {
            if high != 0.0 && high <= low {
                return Err(self.maximum_too_low());
            }
        }
        if self.noise_level == 0 {
            return Err(DetectError::setting("noise_level", "must be 1-255"));
        }
        Despeckle::parse(&self.despeckle_filter)
            .map_err(|reason| DetectError::setting("despeckle_filter", reason))?;
        if self.lightswitch_percent > 100 {
            return Err(DetectError::setting(
                "lightswitch_percent",
                format!("must be 0-100, not {}", self.lightswitch_percent),
            ));
        }
        if !(1..=1000).contains(&self.lightswitch_frames) {
            return Err(DetectError::setting(
                "lightswitch_frames",
                format!("must be 1-1000, not {}", self.lightswitch_frames),
            ));
        }
        if self.minimum_motion_frames == 0 {
            return Err(DetectError::setting(
                "minimum_motion_frames",
                "must be at least 1",
            ));
        }
        if !(self.analysis_fps.is_finite() && (0.0..=240.0).contains(&self.analysis_fps)) {
            return Err(DetectError::setting(
                "analysis_fps",
                format!("must be 0 (every frame) to 240, not {}", self.analysis_fps),
            ));
        }
        if !(1..=100).contains(&self.object_frames) {
            return Err(DetectError::setting(
                "object_frames",
                format!("must be 1-100, not {}", self.object_frames),
            ));
        }
        if self.smart_mask_speed != 0 {
            return Err(DetectError::setting(
                "smart_mask_speed",
                "the smart mask is not implemented yet; only 0 (off) is accepted",
            ));
        }
        Ok(())
    }

    pub(super) fn maximum_too_low(&self) -> DetectError {
        DetectError::setting(
            "threshold_maximum",
            format!(
                "must be 0 (off) or more than threshold ({})",
                self.threshold
            ),
        )
    }
}

/// A pixel count, or a share of the frame in percent. Written `1500` or `"0.5%"`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Threshold {
    Pixels(u32),
    Percent(f64),
}

impl Threshold {
    /// The threshold in pixels for a frame of `frame_pixels` pixels.
    pub fn pixels(self, frame_pixels: u32) -> u32 {
        match self {
            Threshold::Pixels(n) => n,
            // At most 100 % of a u32, so the cast cannot overflow.
            Threshold::Percent(p) => (p / 100.0 * f64::from(frame_pixels)).round() as u32,
        }
    }

    pub(super) fn is_zero(self) -> bool {
        match self {
            Threshold::Pixels(n) => n == 0,
            Threshold::Percent(p) => p == 0.0,
        }
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Threshold::Pixels(n) => write!(f, "{n} pixels"),
            Threshold::Percent(p) => write!(f, "{p}%"),
        }
    }
}

impl Serialize for Threshold {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Threshold::Pixels(n) => serializer.serialize_u32(*n),
            Threshold::Percent(p) => serializer.collect_str(&format_args!("{p}%")),
        }
    }
}

impl<'de> Deserialize<'de> for Threshold {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ThresholdVisitor)
    }
}

struct ThresholdVisitor;

impl Visitor<'_> for ThresholdVisitor {
    type Value = Threshold;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a pixel count like 1500 or a share of the frame like \"0.5%\"")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Threshold, E> {
        u32::try_from(v)
            .map(Threshold::Pixels)
            .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Threshold, E> {
        u32::try_from(v)
            .map(Threshold::Pixels)
            .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Threshold, E> {
        let text = v.trim();
        let parsed = match text.strip_suffix('%') {
            Some(number) => number
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|p| (0.0..=100.0).contains(p))
                .map(Threshold::Percent),
            None => text.parse::<u32>().ok().map(Threshold::Pixels),
        };
        parsed.ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
    }
}

/// `object_size`: a width and a height in pixels, written `"10x25"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectSize {
    pub width: u32,
    pub height: u32,
}

impl ObjectSize {
    /// The pixels a changed area needs to be a candidate object: a quarter of the box. A
    /// person's silhouette fills about half of their box; at night, only about half of that
    /// stands out of the noise after `despeckle_filter`'s erosion.
    pub fn min_pixels(self) -> u32 {
        (u64::from(self.width) * u64::from(self.height) / 4).clamp(1, u64::from(u32::MAX)) as u32
    }
}

impl fmt::Display for ObjectSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

impl Serialize for ObjectSize {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ObjectSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let parsed = text.trim().split_once(['x', 'X']).and_then(|(w, h)| {
            let width = w.trim().parse::<u32>().ok()?;
            let height = h.trim().parse::<u32>().ok()?;
            ((1..=10_000).contains(&width) && (1..=10_000).contains(&height))
                .then_some(ObjectSize { width, height })
        });
        parsed.ok_or_else(|| {
            de::Error::invalid_value(
                de::Unexpected::Str(&text),
                &"a size like \"10x25\" (width x height in pixels, each 1-10000)",
            )
        })
    }
}
