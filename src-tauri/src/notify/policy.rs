//! Which alerts to raise, decided without IO and without reading a clock: every call gets the
//! current time, so the tests can walk through a night of events in microseconds.
//!
//! The rules, in order:
//! - Alerts off (`enabled = false`): nothing at all.
//! - One popup per event: a later message of an event already seen (the `clip_ready` after
//!   its `motion_started`, or a replay) raises nothing.
//! - Events that happened before the app started (more than [`LIVE_GRACE`] before) are not
//!   news: they make one silent "N events while the app was closed" summary (muted cameras not
//!   counted), shown even while snoozed or in quiet hours, and none at all on the very first
//!   run, when the whole history is being imported.
//! - Motion popups are not raised for a muted camera, while snoozed, or in quiet hours; those
//!   events are simply in the history.
//! - Hold-off: at most one motion popup per camera per `hold_off_s`; the events in between
//!   are counted and reported as one "N more events" when the hold-off ends.
//! - Storms: after [`STORM_POPUPS`] motion popups within [`STORM_WINDOW`] (across cameras), the
//!   next motion makes no popup of its own but one "Motion on N cameras" summary, updated in
//!   place at most every [`STORM_UPDATE`] while motion goes on, until [`STORM_WINDOW`] passes
//!   without any. A lightning flash in front of 700 cameras is one notification, not a
//!   queue of 700 that would take minutes to click away; every event is still in the history.
//! - Camera health warnings (heartbeat stopped, outbox growing, spool full, delivery failing)
//!   are raised once per condition until it clears. Mute, snooze and quiet hours do not hide
//!   them (a muted busy street camera that died is still worth knowing about), but silence
//!   their sound.

use std::collections::{BTreeMap, HashSet, VecDeque};

use chrono::{DateTime, Duration, FixedOffset, TimeZone, Utc};
use motion_event::{DeviceStatus, MotionEvent};

use super::settings::NotifySettings;

/// An event that happened at most this long before the app started still gets its own popup:
/// it is recent enough to act on, and this absorbs camera clocks that run a little behind.
pub const LIVE_GRACE: Duration = Duration::minutes(2);
/// The "missed" summary waits until no missed event came for this long, so a catch-up that
/// arrives in many batches still makes one notification.
pub const MISSED_SETTLE: Duration = Duration::seconds(3);
/// A camera is silent after this many heartbeat periods without a status.
pub const SILENT_PERIODS: i32 = 3;
/// The heartbeat period assumed until two heartbeats were seen: the edge node's default.
pub const DEFAULT_HEARTBEAT: Duration = Duration::seconds(30);
/// A camera whose clock jumps back by more than this was reset; its history starts again.
const CLOCK_RESET: Duration = Duration::hours(1);
/// Event ids remembered to recognise a later message of the same event; the `clip_ready`
/// follows within minutes, so a few thousand cover any burst.
const SEEN_CAPACITY: usize = 4096;
/// Heartbeat intervals kept to estimate a camera's period.
const PERIOD_SAMPLES: usize = 5;
/// Motion popups allowed within [`STORM_WINDOW`]: someone walking round the house passes three
/// cameras; more than that at once is a storm, better summarised.
pub const STORM_POPUPS: usize = 3;
/// The window of [`STORM_POPUPS`], and the calm that ends a storm.
pub const STORM_WINDOW: Duration = Duration::seconds(10);
/// The storm summary is updated at most this often: the count stays current without flooding
/// the notification server.
pub const STORM_UPDATE: Duration = Duration::milliseconds(500);
/// Cameras the storm summary names before "and N more".
const STORM_NAMED: usize = 5;

/// One thing to tell the user.
#[derive(Debug, Clone, PartialEq)]
pub enum Alert {
    /// A popup for one new event.
    Event { event: MotionEvent, sound: bool },
    /// Events of one camera held back by the hold-off.
    MoreEvents { camera: String, count: u32 },
    /// Events that happened while the app was closed, with the count per camera (most first).
    Missed {
        count: u32,
        cameras: Vec<(String, u32)>,
    },
    /// Motion on many cameras at once: `cameras` cameras had `events` events since the storm
    /// began; `named` are the first cameras' names. `first` is the storm's first summary; the
    /// later ones update it.
    Storm {
        cameras: u32,
        events: u32,
        named: Vec<String>,
        first: bool,
        sound: bool,
    },
    /// A camera needs attention.
    Warning {
        camera: String,
        problem: Problem,
        sound: bool,
    },
}

impl Alert {
    /// Whether this alert asks for the sound.
    pub fn sound(&self) -> bool {
        match self {
            Alert::Event { sound, .. } | Alert::Warning { sound, .. } => *sound,
            // The storm's first summary rings once; its updates are silent.
            Alert::Storm { first, sound, .. } => *first && *sound,
            // The user heard the first of these events, or was away when they happened.
            Alert::MoreEvents { .. } | Alert::Missed { .. } => false,
        }
    }
}

/// What is wrong with a camera.
#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    /// No heartbeat for `silent_s` seconds.
    Silent { silent_s: i64 },
    /// Uploads are falling behind: `pending` steps wait, more than a few heartbeats ago.
    OutboxGrowing { pending: u32 },
    /// New motion is not recorded: undelivered files fill the spool.
    SpoolFull,
    /// Delivery fails with this error.
    DeliveryFailing { error: String },
}

/// The alert decisions and the little memory they need.
pub struct Policy {
    settings: NotifySettings,
    started_at: DateTime<Utc>,
    summarize_missed: bool,
    missed: Missed,
    seen: Seen,
    /// Hold-off state per `device_id`; a BTreeMap so alerts come in a stable order.
    cameras: BTreeMap<String, HoldOff>,
    health: BTreeMap<String, Health>,
    /// Motion popups of the last [`STORM_WINDOW`]: when, and whose (`device_id`, name).
    recent: VecDeque<(DateTime<Utc>, String, String)>,
    storm: Option<Storm>,
}

/// Motion on many cameras at once, summarised.
struct Storm {
    cameras: HashSet<String>,
    named: Vec<String>,
    events: u32,
    last_event: DateTime<Utc>,
    /// When the summary was last shown; `None` until the first one.
    shown: Option<DateTime<Utc>>,
    /// Events came since the summary was last shown.
    changed: bool,
}

impl Storm {
    fn add(&mut self, device_id: &str, camera: &str, events: u32, now: DateTime<Utc>) {
        if self.cameras.insert(device_id.to_owned()) && self.named.len() < STORM_NAMED {
            self.named.push(camera.to_owned());
        }
        self.events = self.events.saturating_add(events);
        self.last_event = now;
        self.changed = true;
    }

    /// When the summary's next update is due: `None` while nothing changed since it was shown.
    fn update_at(&self) -> Option<DateTime<Utc>> {
        self.changed
            .then(|| self.shown.map_or(self.last_event, |t| t + STORM_UPDATE))
    }

    /// The summary, if it changed and the last one is old enough.
    fn due(&mut self, now: DateTime<Utc>, sound: bool) -> Option<Alert> {
        if !self.changed || self.shown.is_some_and(|t| now - t < STORM_UPDATE) {
            return None;
        }
        self.changed = false;
        let first = self.shown.replace(now).is_none();
        Some(Alert::Storm {
            cameras: u32::try_from(self.cameras.len()).unwrap_or(u32::MAX),
            events: self.events,
            named: self.named.clone(),
            first,
            sound,
        })
    }
}

#[derive(Default)]
struct Missed {
    count: u32,
    /// `device_id` -> (camera name, events)
    cameras: BTreeMap<String, (String, u32)>,
    last_added: Option<DateTime<Utc>>,
}

struct HoldOff {
    camera: String,
    last_popup: DateTime<Utc>,
    held: u32,
}

struct Health {
    camera: String,
    /// False after the node's goodbye message: it stopped on purpose, silence is expected.
    online: bool,
    /// When the last status arrived, by this machine's clock.
    last_heard: DateTime<Utc>,
    /// The last status's own time (the camera's clock), for the period.
    last_ts: Option<i64>,
    intervals_ms: VecDeque<i64>,
    /// `outbox_pending` since it last went down (so never decreasing).
    pending: VecDeque<u32>,
    silent: bool,
    growing: bool,
    spool_full: bool,
    failing: bool,
}

impl Policy {
    /// `started_at` is when the app started; `summarize_missed` is false on a first run (an
    /// empty cache), when nothing was "missed", only history imported.
    pub fn new(
        settings: NotifySettings,
        started_at: DateTime<Utc>,
        summarize_missed: bool,
    ) -> Policy {
        Policy {
            settings,
            started_at,
            summarize_missed,
            missed: Missed::default(),
            seen: Seen::new(SEEN_CAPACITY),
            cameras: BTreeMap::new(),
            health: BTreeMap::new(),
            recent: VecDeque::new(),
            storm: None,
        }
    }

    pub fn settings(&self) -> &NotifySettings {
        &self.settings
    }

    pub fn set_settings(&mut self, settings: NotifySettings) {
        self.settings = settings;
    }

    /// New events (first seen now), in the order they arrived.
    pub fn on_events(&mut self, events: &[MotionEvent], now: DateTime<FixedOffset>) -> Vec<Alert> {
        let mut alerts = Vec::new();
        for ev in events {
            if !self.seen.insert(&ev.event_id) {
                continue;
            }
            if self.happened_before_start(ev, now) {
                // A muted camera's motion is not news later either.
                if self.summarize_missed && !self.settings.muted_cameras.contains(&ev.device_id) {
                    self.missed.add(ev, now.with_timezone(&Utc));
                }
                continue;
            }
            // The summary of what was missed comes before the first live popup.
            alerts.extend(self.take_missed());
            self.live(ev, now, &mut alerts);
        }
        // Once per batch: a batch of a burst is one update, not one per event.
        alerts.extend(self.storm_update(now.with_timezone(&Utc)));
        alerts
    }

    /// Time passing: ends hold-offs, sends the settled "missed" summary, notices silence.
    /// Call it every second or so.
    pub fn tick(&mut self, now: DateTime<FixedOffset>) -> Vec<Alert> {
        let utc = now.with_timezone(&Utc);
        let mut alerts = Vec::new();
        if self
            .missed
            .last_added
            .is_some_and(|last| utc - last >= MISSED_SETTLE)
        {
            alerts.extend(self.take_missed());
        }

        let hold = self.hold_off();
        let motion_hidden = !self.settings.enabled || self.motion_hidden(now);
        for (device_id, cam) in &mut self.cameras {
            if cam.held > 0 && utc >= cam.last_popup + hold {
                let shown = !motion_hidden && !self.settings.muted_cameras.contains(device_id);
                if let (true, Some(storm)) = (shown, &mut self.storm) {
                    // Part of the storm: counted there, no popup of their own.
                    storm.add(device_id, &cam.camera, cam.held, utc);
                } else if shown {
                    alerts.push(Alert::MoreEvents {
                        camera: cam.camera.clone(),
                        count: cam.held,
                    });
                    // The summary is a popup too: the next one waits a full hold-off again.
                    cam.last_popup = utc;
                }
                cam.held = 0;
            }
        }
        // Forget cameras whose hold-off is long over; they start fresh next time.
        self.cameras
            .retain(|_, cam| cam.held > 0 || utc < cam.last_popup + hold);

        alerts.extend(self.storm_update(utc));
        if let Some(storm) = &self.storm {
            // Calm for a whole window: the storm is over (its last count was just shown, or is
            // due by now, since the window is longer than an update's wait).
            if utc - storm.last_event >= STORM_WINDOW && !storm.changed {
                self.storm = None;
                self.recent.clear();
            }
        }

        let sound = self.warning_sound(now);
        for h in self.health.values_mut() {
            let silent_for = utc - h.last_heard;
            if h.online && !h.silent && silent_for > h.period() * SILENT_PERIODS {
                h.silent = true;
                if self.settings.enabled {
                    alerts.push(Alert::Warning {
                        camera: h.camera.clone(),
                        problem: Problem::Silent {
                            silent_s: silent_for.num_seconds(),
                        },
                        sound,
                    });
                }
            }
        }
        alerts
    }

    /// A heartbeat (or status change) of one camera.
    pub fn on_status(&mut self, st: &DeviceStatus, now: DateTime<FixedOffset>) -> Vec<Alert> {
        let utc = now.with_timezone(&Utc);
        let growth_window = usize::try_from(self.settings.outbox_growth_heartbeats).unwrap_or(0);
        let h = self
            .health
            .entry(st.device_id.clone())
            .or_insert_with(|| Health {
                camera: st.device_name.clone(),
                online: true,
                last_heard: utc,
                last_ts: None,
                intervals_ms: VecDeque::new(),
                pending: VecDeque::new(),
                silent: false,
                growing: false,
                spool_full: false,
                failing: false,
            });
        // Any message, even a stale one, proves the camera's node is alive.
        h.last_heard = utc;
        let was_silent = std::mem::replace(&mut h.silent, false);
        match h.last_ts {
            Some(prev) if st.timestamp_ms < prev - CLOCK_RESET.num_milliseconds() => {
                h.intervals_ms.clear();
            }
            // A replay or a message overtaken by a newer one says nothing new.
            Some(prev) if st.timestamp_ms <= prev => return Vec::new(),
            // The gap that ended a silence is an outage, not the period.
            Some(_) if was_silent => {}
            Some(prev) => {
                h.intervals_ms.push_back(st.timestamp_ms - prev);
                if h.intervals_ms.len() > PERIOD_SAMPLES {
                    h.intervals_ms.pop_front();
                }
            }
            None => {}
        }
        h.last_ts = Some(st.timestamp_ms);
        h.camera = st.device_name.clone();
        h.online = st.online;

        let mut problems = Vec::new();
        if h.pending
            .back()
            .is_some_and(|&last| st.outbox_pending < last)
        {
            // Going down means delivery works again; growth is measured from here.
            h.pending.clear();
            h.growing = false;
        }
        h.pending.push_back(st.outbox_pending);
        if h.pending.len() > growth_window + 1 {
            h.pending.pop_front();
        }
        let rising = growth_window > 0
            && h.pending.len() == growth_window + 1
            && h.pending.back() > h.pending.front();
        if rising && !h.growing {
            problems.push(Problem::OutboxGrowing {
                pending: st.outbox_pending,
            });
        }
        h.growing |= rising;

        if st.spool_full && !h.spool_full {
            problems.push(Problem::SpoolFull);
        }
        h.spool_full = st.spool_full;

        let error = st.last_error.as_deref().map(str::trim).unwrap_or("");
        if !error.is_empty() && !h.failing {
            problems.push(Problem::DeliveryFailing {
                error: error.to_owned(),
            });
        }
        h.failing = !error.is_empty();

        if !self.settings.enabled {
            return Vec::new();
        }
        let camera = h.camera.clone();
        let sound = self.warning_sound(now);
        problems
            .into_iter()
            .map(|problem| Alert::Warning {
                camera: camera.clone(),
                problem,
                sound,
            })
            .collect()
    }

    /// When [`tick`](Self::tick) next has a storm update to show, so that a change arriving
    /// just after an update waits [`STORM_UPDATE`], not until the next regular tick.
    pub fn storm_update_at(&self) -> Option<DateTime<Utc>> {
        self.storm.as_ref()?.update_at()
    }

    /// The storm's summary, when it is due.
    fn storm_update(&mut self, now: DateTime<Utc>) -> Option<Alert> {
        let sound = self.settings.sound;
        self.storm.as_mut()?.due(now, sound)
    }

    fn hold_off(&self) -> Duration {
        Duration::seconds(i64::from(self.settings.hold_off_s))
    }

    /// Snoozed or in quiet hours: motion makes no popup.
    fn motion_hidden(&self, now: DateTime<FixedOffset>) -> bool {
        self.settings.snoozed_at(now.with_timezone(&Utc)) || self.settings.quiet_at(now.time())
    }

    fn warning_sound(&self, now: DateTime<FixedOffset>) -> bool {
        self.settings.sound && !self.motion_hidden(now)
    }

    fn live(&mut self, ev: &MotionEvent, now: DateTime<FixedOffset>, alerts: &mut Vec<Alert>) {
        let s = &self.settings;
        if !s.enabled || s.muted_cameras.contains(&ev.device_id) || self.motion_hidden(now) {
            return;
        }
        let utc = now.with_timezone(&Utc);
        if let Some(storm) = &mut self.storm {
            storm.add(&ev.device_id, &ev.device_name, 1, utc);
            return;
        }
        let hold = self.hold_off();
        let popup = Alert::Event {
            event: ev.clone(),
            sound: s.sound,
        };
        match self.cameras.get_mut(&ev.device_id) {
            Some(cam) if utc < cam.last_popup + hold => {
                cam.held += 1;
                cam.camera.clone_from(&ev.device_name);
            }
            Some(cam) => {
                // The hold-off ended but no tick reported the held events yet.
                if cam.held > 0 {
                    alerts.push(Alert::MoreEvents {
                        camera: cam.camera.clone(),
                        count: cam.held,
                    });
                }
                cam.held = 0;
                cam.last_popup = utc;
                cam.camera.clone_from(&ev.device_name);
                self.pop(popup, ev, utc, alerts);
            }
            None => {
                self.cameras.insert(
                    ev.device_id.clone(),
                    HoldOff {
                        camera: ev.device_name.clone(),
                        last_popup: utc,
                        held: 0,
                    },
                );
                self.pop(popup, ev, utc, alerts);
            }
        }
    }

    /// Raises an event's popup, unless too many came just before: then a storm begins, with
    /// the cameras of those popups in its count.
    fn pop(&mut self, popup: Alert, ev: &MotionEvent, now: DateTime<Utc>, alerts: &mut Vec<Alert>) {
        while self
            .recent
            .front()
            .is_some_and(|(t, ..)| now - *t >= STORM_WINDOW)
        {
            self.recent.pop_front();
        }
        if self.recent.len() < STORM_POPUPS {
            self.recent
                .push_back((now, ev.device_id.clone(), ev.device_name.clone()));
            alerts.push(popup);
            return;
        }
        let mut storm = Storm {
            cameras: HashSet::new(),
            named: Vec::new(),
            events: 0,
            last_event: now,
            shown: None,
            changed: false,
        };
        for (t, device_id, camera) in &self.recent {
            storm.add(device_id, camera, 1, *t);
        }
        storm.add(&ev.device_id, &ev.device_name, 1, now);
        self.storm = Some(storm);
    }

    fn happened_before_start(&self, ev: &MotionEvent, now: DateTime<FixedOffset>) -> bool {
        event_time(ev, now.offset()).is_some_and(|t| t < self.started_at - LIVE_GRACE)
    }

    fn take_missed(&mut self) -> Option<Alert> {
        let missed = std::mem::take(&mut self.missed);
        if missed.count == 0 || !self.settings.enabled {
            return None;
        }
        let mut cameras: Vec<(String, u32)> = missed.cameras.into_values().collect();
        cameras.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Some(Alert::Missed {
            count: missed.count,
            cameras,
        })
    }
}

impl Missed {
    fn add(&mut self, ev: &MotionEvent, now: DateTime<Utc>) {
        self.count = self.count.saturating_add(1);
        let entry = self
            .cameras
            .entry(ev.device_id.clone())
            .or_insert_with(|| (ev.device_name.clone(), 0));
        entry.1 = entry.1.saturating_add(1);
        self.last_added = Some(now);
    }
}

impl Health {
    /// The longest recent interval between heartbeats: an edge node also reports at once when
    /// something changes, which splits one period into two short intervals, so neither the
    /// shortest nor the median is the period. A late heartbeat makes the estimate longer,
    /// which only makes the warning later, never false.
    /// The longest recent interval: extra status messages (a camera or outbox change) come
    /// between heartbeats, never instead of them. Until the intervals seen span the default
    /// period, they may all be such extras (a node sends several as it starts), so the
    /// default stands.
    fn period(&self) -> Duration {
        let seen: i64 = self.intervals_ms.iter().sum();
        match self.intervals_ms.iter().copied().max() {
            Some(ms) if seen >= DEFAULT_HEARTBEAT.num_milliseconds() => {
                Duration::milliseconds(ms.max(1000))
            }
            _ => DEFAULT_HEARTBEAT,
        }
    }
}

/// When an event happened: its `timestamp_ms`, else its `time` read in this machine's zone;
/// `None` if neither is usable (such an event is treated as live, never dropped).
fn event_time(ev: &MotionEvent, local: &FixedOffset) -> Option<DateTime<Utc>> {
    match ev.timestamp_ms {
        Some(ms) => Utc.timestamp_millis_opt(ms).single(),
        None => ev
            .local_time()
            .ok()
            .and_then(|t| local.from_local_datetime(&t).single())
            .map(|t| t.with_timezone(&Utc)),
    }
}

/// A bounded set of recently seen event ids; the oldest is forgotten first.
struct Seen {
    capacity: usize,
    order: VecDeque<String>,
    ids: HashSet<String>,
}

impl Seen {
    fn new(capacity: usize) -> Seen {
        Seen {
            capacity,
            order: VecDeque::new(),
            ids: HashSet::new(),
        }
    }

    /// True if `id` was not seen yet.
    fn insert(&mut self, id: &str) -> bool {
        if self.ids.contains(id) {
            return false;
        }
        if self.order.len() >= self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.ids.remove(&old);
            }
        }
        self.order.push_back(id.to_owned());
        self.ids.insert(id.to_owned());
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::settings::{QuietHours, Snooze};
    use chrono::NaiveTime;
    use motion_event::{CameraState, EventKind};

    /// UTC+1, like a European winter.
    fn zone() -> FixedOffset {
        FixedOffset::east_opt(3600).expect("offset")
    }

    /// Local time on the test day.
    fn at(hms: &str) -> DateTime<FixedOffset> {
        let naive = chrono::NaiveDateTime::parse_from_str(
            &format!("2026-11-25 {hms}"),
            "%Y-%m-%d %H:%M:%S",
        )
        .expect("time");
        zone().from_local_datetime(&naive).single().expect("unique")
    }

    fn secs(t: DateTime<FixedOffset>, s: i64) -> DateTime<FixedOffset> {
        t + Duration::seconds(s)
    }

    const START: &str = "12:00:00";

    fn policy(settings: NotifySettings) -> Policy {
        Policy::new(settings, at(START).with_timezone(&Utc), true)
    }

    fn event(id: &str, device: &str, time: DateTime<FixedOffset>) -> MotionEvent {
        MotionEvent {
            event_id: id.into(),
            device_id: device.into(),
            device_name: format!("Cam {device}"),
            device_type: "camera".into(),
            url: String::new(),
            time: motion_event::format_time(&time),
            message: "Motion detected".into(),
            snapshot_url: None,
            kind: Some(EventKind::MotionStarted),
            timestamp_ms: Some(time.timestamp_millis()),
            duration_s: None,
        }
    }

    fn popups(alerts: &[Alert]) -> Vec<&str> {
        alerts
            .iter()
            .filter_map(|a| match a {
                Alert::Event { event, .. } => Some(event.event_id.as_str()),
                _ => None,
            })
            .collect()
    }

    fn more(camera: &str, count: u32) -> Alert {
        Alert::MoreEvents {
            camera: camera.into(),
            count,
        }
    }

    /// Feeds one event at `now` (the event happened then too).
    fn feed(p: &mut Policy, id: &str, device: &str, now: DateTime<FixedOffset>) -> Vec<Alert> {
        p.on_events(&[event(id, device, now)], now)
    }

    #[test]
    fn a_new_event_pops_up_with_sound() {
        let mut p = policy(NotifySettings::default());
        let t = at("12:05:00");
        let alerts = feed(&mut p, "e1", "garage", t);
        assert_eq!(
            alerts,
            vec![Alert::Event {
                event: event("e1", "garage", t),
                sound: true
            }]
        );
    }

    #[test]
    fn clip_ready_of_a_notified_event_and_replays_raise_nothing() {
        let mut p = policy(NotifySettings {
            hold_off_s: 0,
            ..NotifySettings::default()
        });
        let t = at("12:05:00");
        assert_eq!(popups(&feed(&mut p, "e1", "garage", t)), ["e1"]);
        let mut ready = event("e1", "garage", t);
        ready.kind = Some(EventKind::ClipReady);
        ready.url = "http://s3.local/b/e1.mp4".into();
        assert!(p.on_events(&[ready.clone()], secs(t, 20)).is_empty());
        assert!(p.on_events(&[ready], secs(t, 40)).is_empty(), "replay");
        // A clip_ready is the first message of an event published without an early alert.
        let mut only_ready = event("e2", "garage", secs(t, 60));
        only_ready.kind = Some(EventKind::ClipReady);
        assert_eq!(popups(&p.on_events(&[only_ready], secs(t, 60))), ["e2"]);
    }

    #[test]
    fn hold_off_collapses_a_burst_into_one_more_events_notification() {
        let mut p = policy(NotifySettings {
            hold_off_s: 30,
            ..NotifySettings::default()
        });
        let t0 = at("12:05:00");
        assert_eq!(popups(&feed(&mut p, "e1", "garage", t0)), ["e1"]);
        assert!(feed(&mut p, "e2", "garage", secs(t0, 5)).is_empty());
        assert!(feed(&mut p, "e3", "garage", secs(t0, 29)).is_empty());
        assert!(p.tick(secs(t0, 29)).is_empty(), "hold-off not over yet");
        assert_eq!(p.tick(secs(t0, 30)), vec![more("Cam garage", 2)]);
        assert!(p.tick(secs(t0, 31)).is_empty(), "reported once");
        // The summary was a popup: the next event waits for a full hold-off again.
        assert!(feed(&mut p, "e4", "garage", secs(t0, 40)).is_empty());
        assert_eq!(p.tick(secs(t0, 60)), vec![more("Cam garage", 1)]);
        // Quiet for a whole hold-off: the next event pops up at once.
        assert_eq!(popups(&feed(&mut p, "e5", "garage", secs(t0, 95))), ["e5"]);
    }

    #[test]
    fn held_events_are_reported_with_the_next_popup_when_no_tick_came() {
        let mut p = policy(NotifySettings {
            hold_off_s: 30,
            ..NotifySettings::default()
        });
        let t0 = at("12:05:00");
        feed(&mut p, "e1", "garage", t0);
        feed(&mut p, "e2", "garage", secs(t0, 10));
        let alerts = feed(&mut p, "e3", "garage", secs(t0, 45));
        assert_eq!(alerts.len(), 2, "{alerts:?}");
        assert_eq!(alerts[0], more("Cam garage", 1));
        assert_eq!(popups(&alerts), ["e3"]);
    }

    #[test]
    fn hold_off_is_per_camera_and_zero_shows_every_event() {
        let mut p = policy(NotifySettings {
            hold_off_s: 60,
            ..NotifySettings::default()
        });
        let t0 = at("12:05:00");
        feed(&mut p, "g1", "garage", t0);
        assert_eq!(popups(&feed(&mut p, "p1", "porch", secs(t0, 1))), ["p1"]);
        assert!(feed(&mut p, "g2", "garage", secs(t0, 2)).is_empty());

        let mut p = policy(NotifySettings {
            hold_off_s: 0,
            ..NotifySettings::default()
        });
        for (i, id) in ["a", "b", "c"].into_iter().enumerate() {
            let now = secs(t0, i64::try_from(i).unwrap_or(0));
            assert_eq!(popups(&feed(&mut p, id, "garage", now)), [id]);
        }
        assert!(p.tick(secs(t0, 10)).is_empty());
    }

    fn storms(alerts: &[Alert]) -> Vec<(u32, u32, bool)> {
        alerts
            .iter()
            .filter_map(|a| match a {
                Alert::Storm {
                    cameras,
                    events,
                    first,
                    ..
                } => Some((*cameras, *events, *first)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_storm_of_many_cameras_is_one_summary_updated_in_place_until_calm() {
        let mut p = policy(NotifySettings::default());
        let t0 = at("12:05:00");
        for cam in ["a", "b", "c"] {
            assert_eq!(popups(&feed(&mut p, cam, cam, t0)), [cam], "three pop up");
        }
        // A flash in front of 700 cameras, arriving as one batch.
        let t1 = secs(t0, 1);
        let flash: Vec<MotionEvent> = (0..700)
            .map(|i| event(&format!("f{i}"), &format!("cam{i}"), t1))
            .collect();
        let alerts = p.on_events(&flash, t1);
        assert_eq!(storms(&alerts), [(703, 703, true)], "{alerts:?}");
        assert!(popups(&alerts).is_empty());
        assert!(alerts.iter().all(Alert::sound), "the first summary rings");
        let Some(Alert::Storm { named, .. }) = alerts.first() else {
            panic!("{alerts:?}");
        };
        assert_eq!(named, &["Cam a", "Cam b", "Cam c", "Cam cam0", "Cam cam1"]);

        // Stragglers within the update's wait are counted, then shown by the next tick.
        let t2 = t1 + Duration::milliseconds(200);
        let late: Vec<MotionEvent> = (0..10)
            .map(|i| event(&format!("l{i}"), &format!("late{i}"), t2))
            .collect();
        assert_eq!(p.storm_update_at(), None, "nothing new since the summary");
        assert!(p.on_events(&late, t2).is_empty());
        let due = t1 + STORM_UPDATE;
        assert_eq!(
            p.storm_update_at(),
            Some(due.with_timezone(&Utc)),
            "the update is due when its wait ends, not at the next regular tick"
        );
        assert!(p.tick(due - Duration::milliseconds(1)).is_empty());
        let update = p.tick(due);
        assert_eq!(storms(&update), [(713, 713, false)]);
        assert_eq!(p.storm_update_at(), None);
        assert!(!update.iter().any(Alert::sound), "updates are silent");
        assert!(p.tick(secs(t0, 3)).is_empty(), "nothing new");

        // Ten calm seconds end it: the next motion pops up on its own again.
        assert!(p.tick(secs(t0, 12)).is_empty());
        assert_eq!(popups(&feed(&mut p, "n1", "z", secs(t0, 13))), ["n1"]);
    }

    #[test]
    fn motion_spread_over_more_than_the_window_is_no_storm() {
        let mut p = policy(NotifySettings::default());
        let t0 = at("12:05:00");
        for (i, cam) in ["a", "b", "c", "d", "e"].into_iter().enumerate() {
            let now = secs(t0, 5 * i64::try_from(i).unwrap_or(0));
            assert_eq!(popups(&feed(&mut p, cam, cam, now)), [cam]);
        }
    }

    #[test]
    fn held_events_during_a_storm_are_counted_in_it_not_announced_alone() {
        let mut p = policy(NotifySettings {
            hold_off_s: 5,
            ..NotifySettings::default()
        });
        let t0 = at("12:05:00");
        for cam in ["a", "b", "c"] {
            feed(&mut p, cam, cam, t0);
        }
        assert!(feed(&mut p, "a2", "a", secs(t0, 1)).is_empty(), "held");
        assert_eq!(storms(&feed(&mut p, "d", "d", secs(t0, 2))), [(4, 4, true)]);
        // a's hold-off ends: its held event joins the storm's count, no "1 more event".
        assert_eq!(
            p.tick(secs(t0, 5)),
            vec![Alert::Storm {
                cameras: 4,
                events: 5,
                named: ["Cam a", "Cam b", "Cam c", "Cam d"]
                    .map(String::from)
                    .to_vec(),
                first: false,
                sound: true,
            }]
        );
    }

    #[test]
    fn a_muted_camera_makes_no_popup_and_no_more_events() {
        let mut settings = NotifySettings {
            hold_off_s: 30,
            ..NotifySettings::default()
        };
        settings.muted_cameras.insert("street".into());
        let mut p = policy(settings.clone());
        let t0 = at("12:05:00");
        assert!(feed(&mut p, "s1", "street", t0).is_empty());
        assert_eq!(popups(&feed(&mut p, "g1", "garage", t0)), ["g1"]);

        // Muted while events were held: the held count is dropped, not shown.
        let mut p = policy(NotifySettings {
            hold_off_s: 30,
            ..NotifySettings::default()
        });
        feed(&mut p, "s1", "street", t0);
        feed(&mut p, "s2", "street", secs(t0, 1));
        p.set_settings(settings);
        assert!(p.tick(secs(t0, 30)).is_empty());
    }

    #[test]
    fn snooze_hides_popups_until_it_ends() {
        let t0 = at("12:05:00");
        let mut p = policy(NotifySettings {
            snoozed_until: Some(Snooze::Minutes15.until(&t0)),
            hold_off_s: 30,
            ..NotifySettings::default()
        });
        assert!(feed(&mut p, "e1", "garage", t0).is_empty());
        assert!(feed(&mut p, "e2", "garage", secs(t0, 899)).is_empty());
        assert!(
            p.tick(secs(t0, 900)).is_empty(),
            "snoozed events are not held"
        );
        assert_eq!(popups(&feed(&mut p, "e3", "garage", secs(t0, 900))), ["e3"]);
    }

    #[test]
    fn quiet_hours_hide_popups_at_night_and_not_in_the_evening() {
        let quiet = QuietHours {
            start: NaiveTime::from_hms_opt(22, 0, 0).expect("time"),
            end: NaiveTime::from_hms_opt(7, 0, 0).expect("time"),
        };
        let settings = NotifySettings {
            quiet_hours: Some(quiet),
            hold_off_s: 0,
            ..NotifySettings::default()
        };
        // Start the app the evening before, so nothing counts as missed.
        let evening = at("21:59:59");
        let mut p = Policy::new(settings, evening.with_timezone(&Utc), true);
        assert_eq!(popups(&feed(&mut p, "a", "garage", evening)), ["a"]);
        assert!(feed(&mut p, "b", "garage", secs(evening, 1)).is_empty());
        assert!(feed(&mut p, "c", "garage", secs(evening, 4 * 3600)).is_empty());
        let morning = secs(evening, 9 * 3600 + 1); // 07:00:00 the next day
        assert_eq!(morning.time(), NaiveTime::from_hms_opt(7, 0, 0).expect("t"));
        assert_eq!(popups(&feed(&mut p, "d", "garage", morning)), ["d"]);
    }

    #[test]
    fn sound_off_still_pops_up_silently() {
        let mut p = policy(NotifySettings {
            sound: false,
            ..NotifySettings::default()
        });
        let alerts = feed(&mut p, "e1", "garage", at("12:05:00"));
        assert_eq!(popups(&alerts), ["e1"]);
        assert!(!alerts[0].sound());
    }

    #[test]
    fn disabled_raises_nothing_at_all() {
        let mut p = policy(NotifySettings {
            enabled: false,
            ..NotifySettings::default()
        });
        let t0 = at("12:05:00");
        let old = event("old", "garage", at("09:00:00"));
        assert!(p.on_events(&[old], t0).is_empty());
        assert!(feed(&mut p, "e1", "garage", t0).is_empty());
        let mut st = status("garage", t0);
        st.spool_full = true;
        assert!(p.on_status(&st, t0).is_empty());
        assert!(p.tick(secs(t0, 3600)).is_empty());
    }

    #[test]
    fn events_from_before_the_start_make_one_summary_when_the_catch_up_settles() {
        let mut p = policy(NotifySettings::default());
        let now = secs(at(START), 1);
        let backlog = [
            event("m1", "garage", at("09:00:00")),
            event("m2", "porch", at("10:00:00")),
            event("m3", "garage", at("11:00:00")),
        ];
        assert!(p.on_events(&backlog[..2], now).is_empty());
        assert!(p.on_events(&backlog[2..], secs(now, 2)).is_empty());
        assert!(p.tick(secs(now, 4)).is_empty(), "still catching up");
        let summary = Alert::Missed {
            count: 3,
            cameras: vec![("Cam garage".into(), 2), ("Cam porch".into(), 1)],
        };
        assert_eq!(p.tick(secs(now, 5)), vec![summary]);
        assert!(p.tick(secs(now, 10)).is_empty(), "one summary only");
        assert!(!Alert::Missed {
            count: 1,
            cameras: vec![]
        }
        .sound());
    }

    #[test]
    fn muted_cameras_are_left_out_of_the_summary() {
        let mut settings = NotifySettings::default();
        settings.muted_cameras.insert("street".into());
        let mut p = policy(settings);
        let now = secs(at(START), 1);
        let backlog = [
            event("m1", "street", at("09:00:00")),
            event("m2", "garage", at("10:00:00")),
            event("m3", "street", at("11:00:00")),
        ];
        assert!(p.on_events(&backlog, now).is_empty());
        let summary = Alert::Missed {
            count: 1,
            cameras: vec![("Cam garage".into(), 1)],
        };
        assert_eq!(p.tick(secs(now, 5)), vec![summary]);
        // Only muted cameras missed: no summary at all.
        assert!(p
            .on_events(&[event("m4", "street", at("11:30:00"))], now)
            .is_empty());
        assert!(p.tick(secs(now, 60)).is_empty());
    }

    #[test]
    fn the_summary_comes_before_the_first_live_popup_and_recent_events_are_live() {
        let mut p = policy(NotifySettings::default());
        let now = secs(at(START), 1);
        let batch = [
            event("m1", "garage", at("11:00:00")),
            // 1m59s before the start: recent enough to be news.
            event("recent", "porch", at("11:58:01")),
        ];
        let alerts = p.on_events(&batch, now);
        assert_eq!(
            alerts,
            vec![
                Alert::Missed {
                    count: 1,
                    cameras: vec![("Cam garage".into(), 1)]
                },
                Alert::Event {
                    event: batch[1].clone(),
                    sound: true
                }
            ]
        );
    }

    #[test]
    fn missed_time_falls_back_to_the_local_time_field() {
        let mut p = policy(NotifySettings::default());
        let now = secs(at(START), 1);
        let mut old = event("m1", "garage", at("08:00:00"));
        old.timestamp_ms = None;
        let mut live = event("l1", "porch", now);
        live.timestamp_ms = None;
        let alerts = p.on_events(&[old, live], now);
        assert!(matches!(alerts[0], Alert::Missed { count: 1, .. }));
        assert_eq!(popups(&alerts), ["l1"]);
    }

    #[test]
    fn the_first_run_imports_history_without_a_summary() {
        let mut p = Policy::new(
            NotifySettings::default(),
            at(START).with_timezone(&Utc),
            false,
        );
        let now = secs(at(START), 1);
        assert!(p
            .on_events(&[event("m1", "garage", at("09:00:00"))], now)
            .is_empty());
        assert!(p.tick(secs(now, 60)).is_empty());
        assert_eq!(popups(&feed(&mut p, "l1", "garage", now)), ["l1"]);
    }

    fn status(device: &str, at: DateTime<FixedOffset>) -> DeviceStatus {
        DeviceStatus {
            device_id: device.into(),
            device_name: format!("Cam {device}"),
            time: motion_event::format_time(&at),
            timestamp_ms: at.timestamp_millis(),
            online: true,
            camera: CameraState::Ok,
            camera_error: None,
            record_camera: None,
            record_camera_error: None,
            outbox_pending: 0,
            outbox_oldest_s: None,
            undelivered_bytes: 0,
            spool_bytes: 0,
            disk_free_bytes: 1 << 30,
            spool_full: false,
            last_error: None,
            version: "0.1.0".into(),
        }
    }

    fn silent(alerts: &[Alert]) -> Vec<i64> {
        alerts
            .iter()
            .filter_map(|a| match a {
                Alert::Warning {
                    problem: Problem::Silent { silent_s },
                    ..
                } => Some(*silent_s),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_stopped_heartbeat_warns_once_after_three_periods_until_it_comes_back() {
        let mut p = policy(NotifySettings::default());
        let t0 = at("12:05:00");
        for i in 0..4 {
            let t = secs(t0, 10 * i);
            assert!(p.on_status(&status("garage", t), t).is_empty());
        }
        let last = secs(t0, 30);
        assert!(p.tick(secs(last, 30)).is_empty(), "3 periods exactly");
        let alerts = p.tick(secs(last, 31));
        assert_eq!(silent(&alerts), [31]);
        assert!(
            matches!(&alerts[0], Alert::Warning { camera, sound: true, .. } if camera == "Cam garage")
        );
        assert!(p.tick(secs(last, 300)).is_empty(), "once per condition");
        let back = secs(last, 400);
        assert!(p.on_status(&status("garage", back), back).is_empty());
        assert!(p.tick(secs(back, 29)).is_empty());
        assert_eq!(silent(&p.tick(secs(back, 31))), [31], "warns again");
    }

    #[test]
    fn the_period_defaults_to_the_edge_nodes_and_ignores_extra_status_messages() {
        let mut p = policy(NotifySettings::default());
        let t0 = at("12:05:00");
        p.on_status(&status("garage", t0), t0);
        assert!(p.tick(secs(t0, 90)).is_empty(), "default period is 30 s");
        assert_eq!(silent(&p.tick(secs(t0, 91))).len(), 1);

        // Heartbeats every 20 s plus two change-triggered ones 1 s after a heartbeat.
        let mut p = policy(NotifySettings::default());
        for s in [0, 20, 21, 40, 60, 61, 80] {
            let t = secs(t0, s);
            p.on_status(&status("porch", t), t);
        }
        let last = secs(t0, 80);
        assert!(p.tick(secs(last, 60)).is_empty());
        assert_eq!(silent(&p.tick(secs(last, 61))).len(), 1);

        // A node starting up sends a burst of status changes: no period is learnt from them.
        let mut p = policy(NotifySettings::default());
        for ms in [0, 200, 1200, 2700] {
            let t = t0 + Duration::milliseconds(ms);
            p.on_status(&status("yard", t), t);
        }
        let last = t0 + Duration::milliseconds(2700);
        assert!(
            p.tick(secs(last, 90)).is_empty(),
            "still the default period"
        );
        assert_eq!(silent(&p.tick(secs(last, 91))).len(), 1);
    }

    #[test]
    fn a_node_that_said_goodbye_is_not_reported_silent() {
        let mut p = policy(NotifySettings::default());
        let t0 = at("12:05:00");
        let mut bye = status("garage", t0);
        bye.online = false;
        p.on_status(&bye, t0);
        assert!(p.tick(secs(t0, 3600)).is_empty());
    }

    fn problems(alerts: &[Alert]) -> Vec<Problem> {
        alerts
            .iter()
            .filter_map(|a| match a {
                Alert::Warning { problem, .. } => Some(problem.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_growing_outbox_warns_once_until_it_goes_down() {
        let mut p = policy(NotifySettings {
            outbox_growth_heartbeats: 3,
            ..NotifySettings::default()
        });
        let t0 = at("12:05:00");
        let beat = |p: &mut Policy, i: i64, pending: u32| {
            let t = secs(t0, 30 * i);
            let mut st = status("garage", t);
            st.outbox_pending = pending;
            problems(&p.on_status(&st, t))
        };
        // Rising, but not yet over three heartbeats.
        assert!(beat(&mut p, 0, 1).is_empty());
        assert!(beat(&mut p, 1, 2).is_empty());
        assert!(beat(&mut p, 2, 2).is_empty());
        assert_eq!(beat(&mut p, 3, 4), [Problem::OutboxGrowing { pending: 4 }]);
        assert!(beat(&mut p, 4, 6).is_empty(), "once per condition");
        assert!(beat(&mut p, 5, 6).is_empty(), "a plateau does not clear it");
        assert!(beat(&mut p, 6, 5).is_empty(), "going down clears it");
        assert!(beat(&mut p, 7, 6).is_empty());
        assert!(beat(&mut p, 8, 7).is_empty());
        assert_eq!(beat(&mut p, 9, 8), [Problem::OutboxGrowing { pending: 8 }]);
        // An outbox going up and down with the traffic is healthy.
        let mut p = policy(NotifySettings {
            outbox_growth_heartbeats: 3,
            ..NotifySettings::default()
        });
        for (i, pending) in [0, 2, 1, 3, 2, 4, 0, 1, 0].into_iter().enumerate() {
            assert!(beat(&mut p, i64::try_from(i).unwrap_or(0), pending).is_empty());
        }
    }

    #[test]
    fn spool_full_and_delivery_errors_warn_once_each_until_they_clear() {
        let mut p = policy(NotifySettings::default());
        let t0 = at("12:05:00");
        let beat = |p: &mut Policy, i: i64, full: bool, error: Option<&str>| {
            let t = secs(t0, 30 * i);
            let mut st = status("garage", t);
            st.spool_full = full;
            st.last_error = error.map(str::to_owned);
            problems(&p.on_status(&st, t))
        };
        let failing = |e: &str| Problem::DeliveryFailing { error: e.into() };
        assert_eq!(
            beat(&mut p, 0, true, Some("S3 unreachable")),
            [Problem::SpoolFull, failing("S3 unreachable")]
        );
        assert!(beat(&mut p, 1, true, Some("S3 still unreachable")).is_empty());
        assert!(beat(&mut p, 2, false, Some(" ")).is_empty(), "both clear");
        assert_eq!(beat(&mut p, 3, true, None), [Problem::SpoolFull]);
        assert_eq!(beat(&mut p, 4, true, Some("403")), [failing("403")]);
    }

    #[test]
    fn stale_status_messages_change_nothing_but_prove_life() {
        let mut p = policy(NotifySettings::default());
        let t0 = at("12:05:00");
        p.on_status(&status("garage", t0), t0);
        let mut old = status("garage", secs(t0, -10));
        old.spool_full = true;
        assert!(p.on_status(&old, secs(t0, 80)).is_empty(), "out of order");
        assert!(p.tick(secs(t0, 80 + 90)).is_empty(), "heard at 80 s");
    }

    #[test]
    fn warnings_show_in_quiet_hours_and_for_muted_cameras_but_silently() {
        let mut settings = NotifySettings {
            quiet_hours: Some(QuietHours {
                start: NaiveTime::from_hms_opt(11, 0, 0).expect("t"),
                end: NaiveTime::from_hms_opt(13, 0, 0).expect("t"),
            }),
            ..NotifySettings::default()
        };
        settings.muted_cameras.insert("garage".into());
        let mut p = policy(settings);
        let t0 = at("12:05:00");
        let mut st = status("garage", t0);
        st.spool_full = true;
        let alerts = p.on_status(&st, t0);
        assert_eq!(problems(&alerts), [Problem::SpoolFull]);
        assert!(!alerts[0].sound());
    }

    #[test]
    fn seen_ids_are_bounded_and_forget_the_oldest() {
        let mut seen = Seen::new(2);
        assert!(seen.insert("a"));
        assert!(seen.insert("b"));
        assert!(!seen.insert("a"));
        assert!(seen.insert("c"));
        assert!(seen.insert("a"), "a was forgotten");
        assert!(!seen.insert("c"));
        assert_eq!(seen.ids.len(), 2);
    }
}
