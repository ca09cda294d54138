//! The motion detector: grey frames in, one verdict per frame out, in the spirit of the Motion
//! daemon 4.5 (`alg.c`), so its settings and behaviour carry over.
//!
//! Per frame, on a grid of 2x2 pixel means (see `smooth.rs`; counts and boxes are reported
//! in frame pixels): difference against a reference frame (a background model that keeps moving
//! pixels out and takes in slow drift and, after 10 s, objects that stopped), a per-pixel change
//! limit that tunes itself to the sensor noise, a mask, light-change compensation, the
//! `despeckle_filter` clean-up with labelling, the threshold, Motion's locate box, and events
//! (`minimum_motion_frames`, `post_capture`, `event_gap`) in media time.
//!
//! Architecture invariant: the detector is pure. No IO (the caller reads `mask_file`), no clock
//! (time is the frame's media time, passed in), no threads, no allocation per frame. Any frame
//! source can drive it, and a test can replay frames exactly.
//! Not here: decoding, frame-rate limiting (the caller decides which frames to analyse),
//! recording and the pre-capture buffer (the caller keeps frames; the verdict says which belong
//! to an event).

mod cadence;
mod config;
mod despeckle;
mod error;
mod events;
mod lightswitch;
mod mask;
mod noise;
mod objects;
mod reference;
mod smooth;
mod tune;

use std::time::Duration;

use serde::Serialize;

pub use self::cadence::Cadence;
pub use self::config::DetectConfig;
pub use self::despeckle::LocateBox;
pub use self::error::DetectError;
pub use self::events::{EventEnd, EventStart};
pub use self::mask::Mask;

use self::despeckle::{Areas, Despeckle, MotionImage};
use self::events::EventTracker;
use self::lightswitch::LightMapper;
use self::noise::PixelNoise;
use self::objects::Tracker;
use self::reference::{mask_limits, Limits, Reference};
use self::smooth::CELL_PIXELS;
use self::tune::ThresholdTune;

/// Motion's `ACCEPT_STATIC_OBJECT_TIME`: an object that stops moving joins the reference after
/// this long.
const ACCEPT_STATIC_OBJECT: Duration = Duration::from_secs(10);
/// Motion's quick check looks at about this many pixels per frame.
const QUICK_CHECK_SAMPLES: usize = 10_000;
/// After a light change, a frame is still settling when more than this fraction of
/// `lightswitch_percent` of its pixels differ.
const SETTLING_SHARE: u32 = 4;
/// A light change too small for `lightswitch_percent` (a dimmer, a cloud, a street light coming
/// on) is tried when more than this share (1/n) of the frame changed at once ...
const SMALL_LIGHT_CHANGE_SHARE: u32 = 10;
/// ... and kept only if the mapped reference leaves at most this share (1/n) of the change.
const SMALL_LIGHT_CHANGE_EXPLAINED: u32 = 3;
/// After a try that was not a light change (a large object), analysed frames before the next.
const SMALL_LIGHT_CHANGE_COOLDOWN: u32 = 15;
/// A moving object may stand still this long between moves (see `objects.rs`).
const STILL_ALLOWANCE: Duration = Duration::from_millis(500);
/// Frame interval assumed until two frames have been seen (Motion's default 15 fps).
const DEFAULT_FRAME_INTERVAL: Duration = Duration::from_nanos(1_000_000_000 / 15);

/// One frame's luma (Y) plane: `width * height` bytes, row by row, no padding.
#[derive(Debug, Clone, Copy)]
pub struct GrayFrame<'a> {
    width: u32,
    height: u32,
    luma: &'a [u8],
}

impl<'a> GrayFrame<'a> {
    pub fn new(width: u32, height: u32, luma: &'a [u8]) -> Result<GrayFrame<'a>, DetectError> {
        if mask::pixel_count(width, height) != Some(luma.len()) {
            return Err(DetectError::Frame(format!(
                "{width}x{height} pixels need {} bytes of luma, got {}",
                u64::from(width) * u64::from(height),
                luma.len()
            )));
        }
        Ok(GrayFrame {
            width,
            height,
            luma,
        })
    }
}

/// What the detector did about a global light change in this frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Lightswitch {
    /// The reference's brightness was mapped onto this frame's, and detection went on against
    /// the mapped reference (on the change and for `lightswitch_frames` frames after it).
    Compensated,
    /// The change could not be mapped: this frame became the reference, no detection (Motion's
    /// lightswitch).
    Reset,
    /// Detection is paused for `lightswitch_frames` frames after a reset.
    Paused,
}

/// The detector's verdict on one frame. The default is the verdict for a frame the caller
/// chose not to analyse (see [`Cadence`]): nothing happened, nothing to save, no event open.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FrameVerdict {
    /// Motion's `diffs` (`%D`): changed pixels after `despeckle_filter` (with labelling, the
    /// pixels of areas larger than the threshold, or else the largest area). Counted on the
    /// analysis grid and given in frame pixels (4 a cell). When the quick check found the frame
    /// quiet, an estimate from about 10000 cells; 0 when detection is paused.
    pub changed_pixels: u32,
    /// A moving object (see `object_size`) with more than `threshold` pixels, and
    /// `changed_pixels < threshold_maximum`.
    pub motion: bool,
    /// Something moves that has not moved for `object_frames` frames yet: analyse every frame.
    pub watching: bool,
    /// Motion's locate box around the changed pixels, on motion frames.
    pub locate: Option<LocateBox>,
    /// The per-pixel change limit in use (`%N`).
    pub noise: u8,
    /// The threshold in use, in pixels (`%o`); below `threshold` only with `threshold_tune`.
    pub threshold: u32,
    /// Set when a global light change was handled in this frame.
    pub lightswitch: Option<Lightswitch>,
    /// The open event ended before this frame (this frame is not part of it).
    pub event_end: Option<EventEnd>,
    /// An event starts with this frame (after `event_end`, if both are set).
    pub event_start: Option<EventStart>,
    /// This frame belongs in the event's recording (a trigger or post-capture frame).
    pub save: bool,
    /// An event is open after this frame.
    pub in_event: bool,
}

/// What the pixel passes found, before events.
#[derive(Debug, Default)]
struct Analysis {
    changed: u32,
    motion: bool,
    watching: bool,
    locate: Option<LocateBox>,
    lightswitch: Option<Lightswitch>,
}

struct LightswitchSettings {
    /// More changed pixels than this is a light change.
    pixels: u32,
    /// More changed pixels than this may be a small light change.
    small_pixels: u32,
    frames: u32,
    mapper: LightMapper,
}

/// Motion's detection for one camera. Feed it every frame to analyse, in order.
pub struct Detector {
    /// The frames' size; everything below works on the analysis grid (see `smooth.rs`).
    width: u32,
    height: u32,
    // Settings, resolved for this frame size (thresholds in frame pixels, the rest in cells).
    threshold: u32,
    threshold_maximum: Option<u32>,
    despeckle: Despeckle,
    lightswitch: Option<LightswitchSettings>,
    mask: Option<Mask>,
    quick_step: usize,
    // State.
    reference: Reference,
    image: MotionImage,
    /// Per-pixel change limits with a mask and a fixed `noise_level` (no `noise_tune`).
    mask_limits: Option<Vec<u8>>,
    /// With `noise_tune`: each pixel's noise, and the limits it gives.
    pixel_noise: Option<(PixelNoise, Vec<u8>)>,
    /// The change limit in use (with `noise_tune`, the mean over the pixels).
    noise: u8,
    areas: Areas,
    objects: Tracker,
    working_threshold: u32,
    threshold_tune: Option<ThresholdTune>,
    events: EventTracker,
    last_time: Option<Duration>,
    frame_interval: Option<Duration>,
    previous_motion: bool,
    previous_watching: bool,
    /// Frames left in which the reference's brightness is mapped (after a light change).
    map_frames_left: u32,
    /// Frames left in which detection is paused (after a reset).
    pause_frames_left: u32,
    /// The previous analysed frame (empty before the first).
    previous: Vec<u8>,
    /// The reference before a small light change was tried, to put back if it was not one.
    backup: Vec<u8>,
    /// Analysed frames before the next small light change may be tried.
    small_light_cooldown: u32,
    /// Pixels whose reference level the last light change split (see `absorb_still`).
    ambiguous: Vec<bool>,
    /// The frame being analysed, on the analysis grid (see `smooth.rs`).
    smoothed: Vec<u8>,
    /// Whether the noise model learns from this analysed frame (every other one does).
    learn_turn: bool,
}

impl Detector {
    /// A detector for `width` x `height` frames. `mask` is the decoded `mask_file`, if any; it
    /// must have the frames' size.
    pub fn new(
        width: u32,
        height: u32,
        config: &DetectConfig,
        mask: Option<Mask>,
    ) -> Result<Detector, DetectError> {
        config.validate()?;
        let frame_pixels = mask::pixel_count(width, height)
            .and_then(|n| u32::try_from(n).ok())
            .filter(|&n| n > 0 && n < u32::MAX / 2)
            .ok_or_else(|| {
                DetectError::Frame(format!("frame size {width}x{height} is not usable"))
            })?;
        let threshold = config.threshold.pixels(frame_pixels);
        if threshold == 0 && !config.threshold.is_zero() {
            return Err(DetectError::setting(
                "threshold",
                format!(
                    "{} is less than one pixel at {width}x{height}",
                    config.threshold
                ),
            ));
        }
        let threshold_maximum = match config.threshold_maximum.pixels(frame_pixels) {
            0 => None,
            max if max <= threshold => return Err(config.maximum_too_low()),
            max => Some(max),
        };
        if let Some(mask) = &mask {
            if (mask.width(), mask.height()) != (width, height) {
                return Err(DetectError::MaskSize {
                    mask_width: mask.width(),
                    mask_height: mask.height(),
                    width,
                    height,
                });
            }
        }
        let mask = mask.as_ref().map(Mask::on_grid);
        let despeckle = Despeckle::parse(&config.despeckle_filter)
            .map_err(|reason| DetectError::setting("despeckle_filter", reason))?
            .on_grid();
        let (grid_width, grid_height) = smooth::grid_size(width, height);
        let cells = grid_width * grid_height;
        let lightswitch = (config.lightswitch_percent > 0).then(|| LightswitchSettings {
            pixels: u32::try_from(u64::from(cells) * u64::from(config.lightswitch_percent) / 100)
                .unwrap_or(u32::MAX),
            small_pixels: cells / SMALL_LIGHT_CHANGE_SHARE,
            frames: config.lightswitch_frames,
            mapper: LightMapper::new(),
        });
        let (w, h) = (grid_width as usize, grid_height as usize);
        let mut detector = Detector {
            width,
            height,
            threshold,
            threshold_maximum,
            despeckle,
            lightswitch,
            mask_limits: mask
                .as_ref()
                .filter(|_| !config.noise_tune)
                .map(|_| vec![0; w * h]),
            pixel_noise: config.noise_tune.then(|| {
                let model =
                    PixelNoise::new(w * h, config.noise_level, mask.as_ref().map(Mask::weights));
                let mut limits = vec![0; w * h];
                model.limits(&mut limits);
                (model, limits)
            }),
            areas: Areas::new((config.object_size.min_pixels() / CELL_PIXELS).max(1)),
            objects: Tracker::new(config.object_frames),
            mask,
            quick_step: (w * h / QUICK_CHECK_SAMPLES).max(1),
            reference: Reference::new(w, h),
            image: MotionImage::new(w, h),
            noise: config.noise_level,
            working_threshold: threshold,
            threshold_tune: config.threshold_tune.then(|| ThresholdTune::new(threshold)),
            events: EventTracker::new(
                config.minimum_motion_frames,
                Duration::from_secs(config.event_gap),
                config.pre_capture,
                config.post_capture,
            ),
            last_time: None,
            frame_interval: None,
            previous_motion: false,
            previous_watching: false,
            map_frames_left: 0,
            pause_frames_left: 0,
            previous: Vec::new(),
            backup: Vec::new(),
            small_light_cooldown: 0,
            ambiguous: Vec::new(),
            smoothed: Vec::with_capacity(w * h),
            learn_turn: false,
        };
        detector.set_noise(config.noise_level);
        Ok(detector)
    }

    /// Analyses the next frame; `at` is its media time (not wall-clock time), which should not
    /// go backwards. The first frame becomes the reference and never has motion.
    pub fn process(
        &mut self,
        frame: &GrayFrame<'_>,
        at: Duration,
    ) -> Result<FrameVerdict, DetectError> {
        if (frame.width, frame.height) != (self.width, self.height) {
            return Err(DetectError::Frame(format!(
                "frame is {}x{} but the detector was made for {}x{}",
                frame.width, frame.height, self.width, self.height
            )));
        }
        let mut smoothed = std::mem::take(&mut self.smoothed);
        smooth::half(frame.luma, self.width as usize, &mut smoothed);
        let verdict = self.process_smoothed(&smoothed, at);
        // This frame is the next one's previous frame; the old buffer is reused for smoothing.
        self.smoothed = std::mem::replace(&mut self.previous, smoothed);
        Ok(verdict)
    }

    /// `process` for the frame on the analysis grid; `self.previous` is still the previous analysed frame.
    fn process_smoothed(&mut self, luma: &[u8], at: Duration) -> FrameVerdict {
        let Some(previous) = self.last_time.replace(at) else {
            self.reference.reset(luma);
            return self.verdict(at, Analysis::default());
        };
        self.note_interval(at.saturating_sub(previous));

        let analysis = self.analyse(luma, at);
        // Noise changes slowly: learning from every other analysed frame is enough, and halves
        // the cost of the two passes it takes.
        self.learn_turn = !self.learn_turn;
        if analysis.lightswitch.is_none() && self.learn_turn {
            if let Some((model, limits)) = &mut self.pixel_noise {
                self.noise = model.learn(self.reference.pixels(), luma, limits);
            }
        }
        if analysis.lightswitch != Some(Lightswitch::Reset) {
            let limits = limits(&self.pixel_noise, &self.mask_limits, self.noise);
            let accept_after = self.accept_after();
            self.reference
                .update(luma, limits, self.noise, accept_after);
        }
        if let Some(tune) = &mut self.threshold_tune {
            if analysis.lightswitch.is_none() {
                self.working_threshold = tune.step(
                    analysis.changed,
                    analysis.motion,
                    self.working_threshold,
                    self.threshold,
                );
            }
        }
        self.verdict(at, analysis)
    }

    /// The pixel work for one frame (not the first).
    fn analyse(&mut self, frame: &[u8], at: Duration) -> Analysis {
        if self.pause_frames_left > 0 {
            self.pause_frames_left -= 1;
            self.objects.clear();
            return Analysis {
                lightswitch: Some(Lightswitch::Paused),
                ..Analysis::default()
            };
        }
        let limits = limits(&self.pixel_noise, &self.mask_limits, self.noise);
        // Motion's quick check: while nothing is going on, a sample decides whether the full
        // difference is worth computing.
        let busy = self.events.is_open()
            || self.previous_motion
            || self.previous_watching
            || self.map_frames_left > 0;
        if !busy {
            let estimate = self
                .reference
                .sampled_changes(frame, limits, self.quick_step);
            let light_change = self
                .lightswitch
                .as_ref()
                .map_or(u32::MAX, |l| l.small_pixels);
            let worth = (self.working_threshold / CELL_PIXELS).max(self.areas.min_size) / 2;
            if estimate <= worth.min(light_change) {
                self.objects.clear();
                return Analysis {
                    changed: to_pixels(estimate),
                    ..Analysis::default()
                };
            }
        }
        let changed = self.reference.difference(frame, limits, &mut self.image);
        let mut lightswitch = None;
        let mut defer = false;
        self.small_light_cooldown = self.small_light_cooldown.saturating_sub(1);
        if let Some(settings) = &mut self.lightswitch {
            let triggered = changed > settings.pixels;
            // While the exposure settles after a light change, map again only if the frame
            // still differs broadly. Mapping a frame where just an object differs would learn
            // the object's brightness for the reference levels under it (those pixels are
            // kept out of the reference, so they pile up on one level) and erase it.
            let settling = self.map_frames_left > 0;
            // A smaller change (a dimmer, a cloud, a street light) may be light too. The map
            // tells: it explains a light change, not an object, which is then left alone.
            let small = !triggered
                && !settling
                && changed > settings.small_pixels
                && self.small_light_cooldown == 0;
            let mut mapped_change = false;
            if triggered || small || (settling && changed > settings.pixels / SETTLING_SHARE) {
                let weights = self.mask.as_ref().map(Mask::weights);
                let map = settings.mapper.map(self.reference.pixels(), frame, weights);
                self.backup.clear();
                self.backup.extend_from_slice(self.reference.pixels());
                self.reference.remap(&map);
                let mapped = self.reference.difference(frame, limits, &mut self.image);
                if small && mapped * SMALL_LIGHT_CHANGE_EXPLAINED > changed {
                    self.reference.restore(&self.backup);
                    self.small_light_cooldown = SMALL_LIGHT_CHANGE_COOLDOWN;
                    self.reference.difference(frame, limits, &mut self.image);
                } else {
                    if mapped > settings.pixels {
                        // Not a change of brightness alone: do what Motion does.
                        self.reference.reset(frame);
                        self.map_frames_left = 0;
                        self.pause_frames_left = settings.frames;
                        self.objects.clear();
                        return Analysis {
                            lightswitch: Some(Lightswitch::Reset),
                            ..Analysis::default()
                        };
                    }
                    let levels = settings.mapper.ambiguous_levels(self.noise / 2);
                    mapped_change = triggered || small;
                    if mapped_change {
                        self.ambiguous.clear();
                    }
                    self.ambiguous.resize(frame.len(), false);
                    for (a, &r) in self.ambiguous.iter_mut().zip(&self.backup) {
                        *a |= levels[usize::from(r)];
                    }
                    lightswitch = Some(Lightswitch::Compensated);
                }
            }
            if mapped_change {
                // What the map left over may be a moving object or a patch the map could not
                // follow; the next frames tell them apart, so this one decides nothing.
                self.map_frames_left = settings.frames;
                defer = true;
            } else if settling {
                // The image, not `changed`, is what counts from here on.
                self.reference.absorb_still(
                    frame,
                    &self.previous,
                    &self.ambiguous,
                    self.noise,
                    &mut self.image,
                );
                self.map_frames_left -= 1;
                lightswitch = Some(Lightswitch::Compensated);
            }
        }
        let previous = &self.previous;
        let has_previous = previous.len() == frame.len();
        let cleaned = self.image.despeckle(
            &self.despeckle,
            self.working_threshold / CELL_PIXELS,
            &mut self.areas,
            |i| has_previous && moved(frame[i], previous[i], limits.at(i)),
        );
        let found = self.objects.step(&self.areas.list, at, STILL_ALLOWANCE);
        let changed = to_pixels(cleaned.diffs);
        let motion = !defer
            && to_pixels(found.object_pixels) > self.working_threshold
            && self.threshold_maximum.is_none_or(|max| changed < max);
        Analysis {
            changed,
            motion,
            watching: found.watching || (found.object_pixels > 0 && !motion),
            locate: if motion {
                self.image
                    .locate(cleaned)
                    .map(|found| found.to_frame(self.width, self.height))
            } else {
                None
            },
            lightswitch,
        }
    }

    fn verdict(&mut self, at: Duration, analysis: Analysis) -> FrameVerdict {
        let step = self.events.step(at, analysis.motion);
        self.previous_motion = analysis.motion;
        self.previous_watching = analysis.watching;
        FrameVerdict {
            changed_pixels: analysis.changed,
            motion: analysis.motion,
            watching: analysis.watching,
            locate: analysis.locate,
            noise: self.noise,
            threshold: self.working_threshold,
            lightswitch: analysis.lightswitch,
            event_end: step.ended,
            event_start: step.started,
            save: step.save,
            in_event: step.in_event,
        }
    }

    fn set_noise(&mut self, noise: u8) {
        self.noise = noise;
        if let (Some(mask), Some(limits)) = (&self.mask, &mut self.mask_limits) {
            mask_limits(mask.weights(), noise, limits);
        }
    }

    /// Tracks the time between analysed frames (a running average, stalls capped).
    fn note_interval(&mut self, interval: Duration) {
        if interval.is_zero() {
            return;
        }
        let interval = interval.min(ACCEPT_STATIC_OBJECT);
        self.frame_interval = Some(match self.frame_interval {
            None => interval,
            Some(average) => (average * 7 + interval) / 8,
        });
    }

    /// Frames a pixel may stay out of the reference before it is accepted into it.
    fn accept_after(&self) -> u16 {
        let interval = self.frame_interval.unwrap_or(DEFAULT_FRAME_INTERVAL);
        let frames = ACCEPT_STATIC_OBJECT.as_nanos() / interval.as_nanos().max(1);
        u16::try_from(frames.clamp(1, u128::from(u16::MAX - 1))).unwrap_or(u16::MAX - 1)
    }
}

/// Whether a cell changed since the previous analysed frame: by more than 1.5 times its change
/// limit. At the limit itself sensor noise alone would move one cell in twenty of a still patch
/// (two frames' noise differ by 1.4 times a frame's from the reference, which the limit is made
/// for), enough for a street light's glow to look like something creeping; an edge that moves
/// changes by far more.
fn moved(now: u8, before: u8, limit: u8) -> bool {
    u16::from(now.abs_diff(before)) * 2 > u16::from(limit) * 3
}

/// Cells of the analysis grid in frame pixels.
fn to_pixels(cells: u32) -> u32 {
    cells.saturating_mul(CELL_PIXELS)
}

fn limits<'a>(
    pixel_noise: &'a Option<(PixelNoise, Vec<u8>)>,
    mask_limits: &'a Option<Vec<u8>>,
    noise: u8,
) -> Limits<'a> {
    match (pixel_noise, mask_limits) {
        (Some((_, limits)), _) | (None, Some(limits)) => Limits::PerPixel(limits),
        (None, None) => Limits::Uniform(noise),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 160x120 frame of a textured wall with a dark 16x32 box whose left edge is at `x`.
    fn scene(x: Option<u32>) -> Vec<u8> {
        let (w, h) = (160u32, 120u32);
        (0..w * h)
            .map(|i| {
                let (px, py) = (i % w, i / w);
                let inside = x.is_some_and(|x| (x..x + 16).contains(&px) && (40..72).contains(&py));
                if inside {
                    30
                } else {
                    (120 + (px * 7 + py * 13) % 9) as u8
                }
            })
            .collect()
    }

    #[test]
    fn a_moving_box_is_motion_counted_and_located_in_frame_pixels() -> Result<(), DetectError> {
        let mut detector = Detector::new(160, 120, &DetectConfig::default(), None)?;
        let step = Duration::from_millis(200);
        let mut at = Duration::ZERO;
        for _ in 0..5 {
            let frame = scene(None);
            detector.process(&GrayFrame::new(160, 120, &frame)?, at)?;
            at += step;
        }
        let mut seen = None;
        for n in 0..6u32 {
            let x = 40 + 6 * n;
            let frame = scene(Some(x));
            let verdict = detector.process(&GrayFrame::new(160, 120, &frame)?, at)?;
            at += step;
            if verdict.motion {
                seen = Some((x, verdict));
                break;
            }
        }
        let (x, verdict) = seen.expect("the box became motion within 6 moves");
        // Counted on the grid, given in frame pixels: whole cells, about the box's 512 pixels.
        assert_eq!(verdict.changed_pixels % CELL_PIXELS, 0, "{verdict:?}");
        assert!((384..=768).contains(&verdict.changed_pixels), "{verdict:?}");
        let found = verdict.locate.expect("a locate box on a motion frame");
        let centre = (x + 8, 56);
        assert!(
            found.center_x.abs_diff(centre.0) <= 6 && found.center_y.abs_diff(centre.1) <= 6,
            "centre {:?} far from the box's {centre:?}: {found:?}",
            (found.center_x, found.center_y)
        );
        assert!(
            found.x + found.width <= 160 && found.y + found.height <= 120,
            "{found:?}"
        );
        Ok(())
    }
}
