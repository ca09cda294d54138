//! The alert sound: bundled WAV files played with rodio on a thread of their own.
//!
//! An audio output is a platform stream that may not move between threads, so one thread owns
//! it and the rest of the app only sends "play" requests, which never block. A machine without
//! an audio device (CI, Xvfb, a server) is normal: the first failure to open one is logged as
//! a warning, later ones only at debug level, and alerts go on silently. The device is tried
//! again now and then, so headphones plugged in later are used.

use std::io::Cursor;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rodio::{Decoder, OutputStream, OutputStreamBuilder, Sink};

use super::settings::SoundChoice;

const CHIME: &[u8] = include_bytes!("../../assets/sounds/chime.wav");
const DING_DONG: &[u8] = include_bytes!("../../assets/sounds/ding-dong.wav");

/// How long to wait before trying a missing audio device again.
const DEVICE_RETRY: Duration = Duration::from_secs(60);
/// Requests queued while a sound plays; more in a burst would only be noise.
const QUEUE: usize = 2;

/// The bytes of a bundled sound (a WAV file).
pub fn sound_bytes(choice: SoundChoice) -> &'static [u8] {
    match choice {
        SoundChoice::Chime => CHIME,
        SoundChoice::DingDong => DING_DONG,
    }
}

struct Play {
    choice: SoundChoice,
    volume: f32,
}

/// Plays alert sounds; cheap to call from anywhere.
pub struct Sound {
    tx: Option<mpsc::SyncSender<Play>>,
}

impl Sound {
    /// Starts the sound thread; it opens the audio device at the first sound, not before.
    pub fn new() -> Sound {
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        let spawned = std::thread::Builder::new()
            .name("alert-sound".into())
            .spawn(move || player(rx));
        match spawned {
            Ok(_) => Sound { tx: Some(tx) },
            Err(err) => {
                tracing::warn!(%err, "cannot start the sound thread; alerts will be silent");
                Sound { tx: None }
            }
        }
    }

    /// Plays `choice` at `volume` (0.0–1.0) unless sounds are already queued.
    pub fn play(&self, choice: SoundChoice, volume: f32) {
        if volume <= 0.0 {
            return;
        }
        if let Some(tx) = &self.tx {
            // A full queue means a burst: the chimes already waiting are enough.
            let _ = tx.try_send(Play { choice, volume });
        }
    }
}

fn player(rx: mpsc::Receiver<Play>) {
    let mut output: Option<OutputStream> = None;
    let mut device = DeviceState::default();
    while let Ok(play) = rx.recv() {
        let now = Instant::now();
        if output.is_none() && device.may_try(now) {
            match OutputStreamBuilder::open_default_stream() {
                Ok(mut stream) => {
                    // Dropping happens only at exit; rodio's note about it is noise.
                    stream.log_on_drop(false);
                    output = Some(stream);
                    device.opened();
                }
                Err(err) => {
                    if device.failed(now) {
                        tracing::warn!(%err, "no audio output device; alerts stay silent");
                    } else {
                        tracing::debug!(%err, "still no audio output device");
                    }
                }
            }
        }
        let Some(stream) = &output else { continue };
        match Decoder::new_wav(Cursor::new(sound_bytes(play.choice))) {
            Ok(source) => {
                let sink = Sink::connect_new(stream.mixer());
                sink.set_volume(play.volume);
                sink.append(source);
                // Plays to the end on the mixer while the stream lives.
                sink.detach();
            }
            Err(err) => {
                tracing::warn!(%err, choice = ?play.choice, "cannot decode the alert sound")
            }
        }
    }
}

/// When to try the audio device, and whether a failure is news.
#[derive(Default)]
struct DeviceState {
    warned: bool,
    retry_at: Option<Instant>,
}

impl DeviceState {
    fn may_try(&self, now: Instant) -> bool {
        self.retry_at.is_none_or(|at| now >= at)
    }

    /// Records a failure; true the first time, when it is worth a warning.
    fn failed(&mut self, now: Instant) -> bool {
        self.retry_at = Some(now + DEVICE_RETRY);
        !std::mem::replace(&mut self.warned, true)
    }

    fn opened(&mut self) {
        self.retry_at = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rodio::Source;

    #[test]
    fn bundled_sounds_are_short_valid_wavs() {
        for (choice, max) in [
            (SoundChoice::Chime, Duration::from_millis(450)),
            (SoundChoice::DingDong, Duration::from_millis(650)),
        ] {
            let decoder = Decoder::new_wav(Cursor::new(sound_bytes(choice)));
            let source = match decoder {
                Ok(s) => s,
                Err(err) => panic!("{choice:?} does not decode: {err}"),
            };
            let length = source.total_duration().unwrap_or_default();
            assert!(
                length > Duration::from_millis(300) && length <= max,
                "{choice:?} lasts {length:?}"
            );
            let peak = source.map(f32::abs).fold(0.0, f32::max);
            assert!(peak > 0.3 && peak <= 1.0, "{choice:?} peak {peak}");
        }
    }

    #[test]
    fn a_missing_device_is_reported_once_and_retried_later() {
        let mut d = DeviceState::default();
        let t0 = Instant::now();
        assert!(d.may_try(t0));
        assert!(d.failed(t0), "the first failure is news");
        assert!(!d.may_try(t0 + Duration::from_secs(1)));
        assert!(d.may_try(t0 + DEVICE_RETRY));
        assert!(!d.failed(t0 + DEVICE_RETRY), "later failures are not");
        d.opened();
        assert!(d.may_try(t0 + DEVICE_RETRY));
    }

    #[test]
    fn playing_without_an_audio_device_is_harmless() {
        // CI has no sound card: this must neither panic nor block.
        let sound = Sound::new();
        for _ in 0..10 {
            sound.play(SoundChoice::Chime, 0.5);
        }
        sound.play(SoundChoice::DingDong, 0.0);
    }
}
