//! What the user chose about alerts: one serde struct with a default for every field, so a
//! settings file written by an older version (or an empty one) still loads.
//!
//! This file holds the choices and the small pure computations on them (is it quiet now, when
//! does a snooze end); it does not decide which alert to raise (`policy.rs` does).

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// Everything the user can set about alerts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(default, deny_unknown_fields)]
pub struct NotifySettings {
    /// Raise alerts at all.
    pub enabled: bool,
    /// Play a sound with a popup.
    pub sound: bool,
    /// Which bundled sound to play.
    pub sound_choice: SoundChoice,
    /// Loudness from 0.0 (silent) to 1.0 (the sound as recorded).
    pub volume: f32,
    /// No motion popups and no sound between these local times; none by default.
    pub quiet_hours: Option<QuietHours>,
    /// At most one motion popup per camera in this many seconds; the events in between are
    /// counted and shown as one "N more events" notification. 0 shows every event.
    pub hold_off_s: u32,
    /// Cameras (by `device_id`) whose motion raises no popup.
    pub muted_cameras: BTreeSet<String>,
    /// No motion popups before this time.
    pub snoozed_until: Option<DateTime<Utc>>,
    /// Warn when a camera's `outbox_pending` went up over this many heartbeats without ever
    /// going down: its uploads are falling behind.
    pub outbox_growth_heartbeats: u32,
}

impl Default for NotifySettings {
    fn default() -> Self {
        NotifySettings {
            enabled: true,
            sound: true,
            sound_choice: SoundChoice::Chime,
            volume: DEFAULT_VOLUME,
            quiet_hours: None,
            hold_off_s: 60,
            muted_cameras: BTreeSet::new(),
            snoozed_until: None,
            outbox_growth_heartbeats: 5,
        }
    }
}

const DEFAULT_VOLUME: f32 = 0.8;

impl NotifySettings {
    /// The volume to play at: a hand-edited file may hold anything, and rodio would happily
    /// amplify 50 times.
    pub fn effective_volume(&self) -> f32 {
        if self.volume.is_finite() {
            self.volume.clamp(0.0, 1.0)
        } else {
            DEFAULT_VOLUME
        }
    }

    /// Whether a snooze is running at `now`.
    pub fn snoozed_at(&self, now: DateTime<Utc>) -> bool {
        self.snoozed_until.is_some_and(|until| now < until)
    }

    /// Whether `local` (the wall-clock time here) falls in the quiet hours.
    pub fn quiet_at(&self, local: NaiveTime) -> bool {
        self.quiet_hours.is_some_and(|q| q.contains(local))
    }
}

/// The bundled alert sounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum SoundChoice {
    /// A short two-tone chime (0.4 s).
    Chime,
    /// A doorbell-like "ding-dong" (0.6 s).
    DingDong,
}

/// A daily span of local time, e.g. 22:00–07:00. It may span midnight; the start is inside
/// the span and the end is not. Equal start and end mean an empty span, not a whole day: a
/// user who wants silence all day turns alerts off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl QuietHours {
    pub fn contains(&self, t: NaiveTime) -> bool {
        if self.start <= self.end {
            self.start <= t && t < self.end
        } else {
            t >= self.start || t < self.end
        }
    }
}

/// The snooze lengths offered to the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum Snooze {
    Minutes15,
    Hour1,
    /// Until the next 07:00 local time.
    UntilMorning,
}

/// When "until tomorrow" ends, local time.
pub const MORNING: NaiveTime = match NaiveTime::from_hms_opt(7, 0, 0) {
    Some(t) => t,
    None => NaiveTime::MIN,
};

impl Snooze {
    /// When a snooze chosen at `now` ends. `now` carries the local zone so that "tomorrow
    /// 07:00" is 07:00 on the wall clock even across a daylight-saving change.
    pub fn until<Tz: TimeZone>(self, now: &DateTime<Tz>) -> DateTime<Utc> {
        let utc = now.with_timezone(&Utc);
        match self {
            Snooze::Minutes15 => utc + Duration::minutes(15),
            Snooze::Hour1 => utc + Duration::hours(1),
            Snooze::UntilMorning => next_local(now, MORNING),
        }
    }
}

/// The first `at` on the wall clock strictly after `now`. At 01:00, "tomorrow morning" is the
/// coming morning six hours away, not one 30 hours away: that is what a user snoozing at night
/// means.
fn next_local<Tz: TimeZone>(now: &DateTime<Tz>, at: NaiveTime) -> DateTime<Utc> {
    let zone = now.timezone();
    let today = now.date_naive();
    for day in [
        Some(today),
        today.succ_opt(),
        today.succ_opt().and_then(|d| d.succ_opt()),
    ] {
        let Some(day) = day else { continue };
        let wall = day.and_time(at);
        // In a DST gap the wall time does not exist: the first instant after the gap is what
        // the wall clock shows then. In an overlap the earlier instant is the first 07:00.
        let instant = zone.from_local_datetime(&wall).earliest().or_else(|| {
            zone.from_local_datetime(&(wall + Duration::hours(1)))
                .earliest()
        });
        if let Some(instant) = instant {
            let instant = instant.with_timezone(&Utc);
            if instant > now.with_timezone(&Utc) {
                return instant;
            }
        }
    }
    // Unreachable for real zones (07:00 exists on one of three consecutive days); a day from
    // now is still a sensible snooze.
    now.with_timezone(&Utc) + Duration::days(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::FixedOffset;

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).expect("valid time")
    }

    fn at(zone_h: i32, s: &str) -> DateTime<FixedOffset> {
        let zone = FixedOffset::east_opt(zone_h * 3600).expect("offset");
        let naive = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("time");
        zone.from_local_datetime(&naive).single().expect("unique")
    }

    #[test]
    fn quiet_hours_spanning_midnight_include_the_night_only() {
        let q = QuietHours {
            start: t(22, 0),
            end: t(7, 0),
        };
        for (time, quiet) in [
            (t(21, 59), false),
            (t(22, 0), true),
            (t(23, 59), true),
            (t(0, 0), true),
            (t(6, 59), true),
            (t(7, 0), false),
            (t(12, 0), false),
        ] {
            assert_eq!(q.contains(time), quiet, "{time}");
        }
    }

    #[test]
    fn quiet_hours_within_one_day_and_empty_span() {
        let q = QuietHours {
            start: t(13, 0),
            end: t(14, 30),
        };
        assert!(!q.contains(t(12, 59)));
        assert!(q.contains(t(13, 0)));
        assert!(q.contains(t(14, 29)));
        assert!(!q.contains(t(14, 30)));
        let empty = QuietHours {
            start: t(8, 0),
            end: t(8, 0),
        };
        assert!(!empty.contains(t(8, 0)));
        assert!(!empty.contains(t(20, 0)));
    }

    #[test]
    fn snooze_lengths() {
        let now = at(1, "2026-11-25 21:10");
        let utc = now.with_timezone(&Utc);
        assert_eq!(Snooze::Minutes15.until(&now), utc + Duration::minutes(15));
        assert_eq!(Snooze::Hour1.until(&now), utc + Duration::hours(1));
    }

    #[test]
    fn snooze_until_morning_is_the_next_seven_oclock_local() {
        // Evening: tomorrow 07:00 local (= 06:00 UTC in UTC+1).
        assert_eq!(
            Snooze::UntilMorning.until(&at(1, "2026-11-25 21:10")),
            at(1, "2026-11-26 07:00").with_timezone(&Utc)
        );
        // After midnight: the coming morning, the same date.
        assert_eq!(
            Snooze::UntilMorning.until(&at(1, "2026-11-26 01:30")),
            at(1, "2026-11-26 07:00").with_timezone(&Utc)
        );
        // Exactly 07:00: the next day's, never "now".
        assert_eq!(
            Snooze::UntilMorning.until(&at(-5, "2026-12-31 07:00")),
            at(-5, "2027-01-01 07:00").with_timezone(&Utc)
        );
    }

    #[test]
    fn snoozed_and_quiet_checks() {
        let now = at(0, "2026-11-25 12:00").with_timezone(&Utc);
        let mut s = NotifySettings::default();
        assert!(!s.snoozed_at(now));
        s.snoozed_until = Some(now + Duration::seconds(1));
        assert!(s.snoozed_at(now));
        s.snoozed_until = Some(now);
        assert!(!s.snoozed_at(now), "a snooze ends at its end time");
        assert!(!s.quiet_at(t(23, 0)), "no quiet hours by default");
    }

    #[test]
    fn volume_is_clamped_and_nonsense_falls_back() {
        let mut s = NotifySettings::default();
        for (v, want) in [
            (0.5, 0.5),
            (-1.0, 0.0),
            (50.0, 1.0),
            (f32::NAN, DEFAULT_VOLUME),
        ] {
            s.volume = v;
            assert_eq!(s.effective_volume(), want, "{v}");
        }
    }

    #[test]
    fn settings_round_trip_and_missing_fields_take_defaults() -> Result<(), serde_json::Error> {
        let parsed: NotifySettings = serde_json::from_str(
            r#"{"quiet_hours": {"start": "22:00", "end": "07:00"}, "muted_cameras": ["porch"],
                "sound_choice": "ding_dong", "snoozed_until": "2026-11-26T06:00:00Z"}"#,
        )?;
        assert_eq!(
            parsed.quiet_hours,
            Some(QuietHours {
                start: t(22, 0),
                end: t(7, 0)
            })
        );
        assert!(parsed.muted_cameras.contains("porch"));
        assert_eq!(parsed.sound_choice, SoundChoice::DingDong);
        assert_eq!(parsed.hold_off_s, NotifySettings::default().hold_off_s);
        assert!(parsed.enabled);
        let back: NotifySettings = serde_json::from_str(&serde_json::to_string(&parsed)?)?;
        assert_eq!(back, parsed);
        assert_eq!(
            serde_json::from_str::<NotifySettings>("{}")?,
            NotifySettings::default()
        );
        Ok(())
    }

    #[test]
    fn a_misspelt_setting_is_an_error_not_ignored() {
        let err = serde_json::from_str::<NotifySettings>(r#"{"hold_of_s": 5}"#)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("hold_of_s"), "{err}");
    }
}
