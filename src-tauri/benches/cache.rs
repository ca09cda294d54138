//! The event cache's benchmark (issue 5): ingest, typical history searches and a backfill, on a
//! cache of 1,000,000 events, each figure printed against its target.
//!
//! It drives only the public `Cache` API, in the batch sizes the sources use, on a fresh SQLite
//! file in a temporary folder. It is not a regression test: a missed target is printed as a
//! verdict and the exit code stays 0; only a failure to run exits non-zero. How to run it and the
//! last recorded figures: `bench/cache/README.md`.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{TimeZone, Utc};
use motion_event::{EventKind, MotionEvent};
use motion_in_motion_lib::cache::{Cache, SearchQuery};

/// Events per `Cache::apply`: both sources use 500 (the Kafka source's `MAX_BATCH`, the ksqlDB
/// backfill's `BACKFILL_BATCH`); the ksqlDB push query applies smaller chunks, live.
const BATCH: usize = 500;
const CAMERAS: usize = 20;
const RUNS: usize = 200;
const LIMIT: u32 = 100;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;
/// The last event of the year the cache holds (fixed, so every run builds the same cache).
const END_MS: i64 = 1_795_000_000_000;
/// What the ksqlDB source re-reads before the newest cached event (its `BACKFILL_OVERLAP`).
const BACKFILL_OVERLAP_MS: i64 = 10 * 60 * 1000;

const INGEST_TARGET: f64 = 20_000.0;
const SEARCH_P95_TARGET: Duration = Duration::from_millis(20);
const BACKFILL_TARGET: Duration = Duration::from_secs(10);

/// A word in about 80 % of the messages, and one in about 0.05 % of them.
const COMMON_WORD: &str = "motion";
const RARE_WORD: &str = "fox";

const NAMES: [&str; CAMERAS] = [
    "Garage",
    "Front door",
    "Back yard",
    "Driveway",
    "Side gate",
    "Porch",
    "Garden",
    "Shed",
    "Kitchen",
    "Hallway",
    "Living room",
    "Office",
    "Basement",
    "Attic",
    "Pool",
    "Carport",
    "Workshop",
    "Nursery",
    "Patio",
    "Barn",
];

/// What other producers (older edge nodes, the seed's scripts) write instead of edge-node's
/// "Motion detected"; none of them contains the common or the rare word.
const OTHER_MESSAGES: [&str; 8] = [
    "Person at the door",
    "Car in the driveway",
    "Delivery van stopped",
    "Cat on the fence",
    "Dog in the garden",
    "Light changed",
    "Someone walking past",
    "Bicycle left outside",
];

struct Scale {
    events: usize,
    backfill: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; anything else we do not know is a mistake worth naming.
    let mut quick = std::env::var_os("CACHE_BENCH_QUICK").is_some_and(|v| v != "0");
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--quick" => quick = true,
            "--bench" => {}
            other => anyhow::bail!("unknown argument {other:?} (known: --quick)"),
        }
    }
    let scale = if quick {
        Scale {
            events: 100_000,
            backfill: 10_000,
        }
    } else {
        Scale {
            events: 1_000_000,
            backfill: 100_000,
        }
    };

    let dir = tempfile::tempdir().context("cannot create a temporary folder for the cache")?;
    let path = dir.path().join("bench.sqlite");
    let cache = Cache::open(&path)
        .await
        .with_context(|| format!("cannot open {}", path.display()))?;

    println!("cache benchmark{}", if quick { " (--quick)" } else { "" });
    print_machine(&path).await?;
    println!("cache file: {}", path.display());
    println!();

    let mut rng = Rng(0x5eed_cafe_f00d_d00d);
    let first_ms = END_MS - 365 * DAY_MS;
    let mut feed = Feed::new(first_ms, END_MS, scale.events);
    let ingest = ingest(&cache, &mut feed, &mut rng).await?;
    let rows = cache.count().await?;
    anyhow::ensure!(
        usize::try_from(rows).ok() == Some(scale.events),
        "the cache holds {rows} events after ingest, not {}",
        scale.events
    );
    let rate = ingest.events as f64 / ingest.time.as_secs_f64();
    println!(
        "ingest: {} events ({} messages, batches of {BATCH}) in {:.1} s of apply time \
         ({:.1} s wall): {:.0} events/s, {:.0} messages/s",
        ingest.events,
        ingest.messages,
        ingest.time.as_secs_f64(),
        ingest.wall.as_secs_f64(),
        rate,
        ingest.messages as f64 / ingest.time.as_secs_f64(),
    );
    println!(
        "  target >= {INGEST_TARGET:.0} events/s: {}",
        verdict(rate >= INGEST_TARGET)
    );
    println!(
        "  cache file after ingest: {:.0} MB",
        file_mb(&path).unwrap_or(f64::NAN)
    );
    println!();

    println!(
        "search: {RUNS} runs each, limit {LIMIT}, random cameras and 7-day windows (fixed seed)"
    );
    let mut all_met = true;
    for (name, make) in searches() {
        let mut times = Vec::with_capacity(RUNS);
        let mut found = 0usize;
        for _ in 0..RUNS {
            let q = make(&mut rng, first_ms);
            let start = Instant::now();
            let hits = cache.search(&q).await?;
            times.push(start.elapsed());
            found += hits.len();
        }
        times.sort();
        let p95 = percentile(&times, 95);
        all_met &= p95 <= SEARCH_P95_TARGET;
        println!(
            "  {name:<40} p50 {:>7.2} ms  p95 {:>7.2} ms  max {:>7.2} ms  ({:.1} rows/run)  p95 <= {} ms: {}",
            ms(percentile(&times, 50)),
            ms(p95),
            ms(times.last().copied().unwrap_or_default()),
            found as f64 / RUNS as f64,
            SEARCH_P95_TARGET.as_millis(),
            verdict(p95 <= SEARCH_P95_TARGET),
        );
    }
    println!("  every search p95 <= 20 ms: {}", verdict(all_met));
    println!();

    let backfill = backfill(&cache, &mut feed, scale.backfill, &mut rng).await?;
    println!(
        "backfill: {} missed events ({} messages, of which {} re-read from the overlap) \
         into {} cached, batches of {BATCH}: {:.2} s",
        backfill.events,
        backfill.messages,
        backfill.overlap,
        scale.events,
        backfill.time.as_secs_f64(),
    );
    let target = if quick {
        // The quick run backfills a tenth; it is held to a tenth of the time.
        BACKFILL_TARGET / 10
    } else {
        BACKFILL_TARGET
    };
    println!(
        "  target <= {:.0} s: {}",
        target.as_secs_f64(),
        verdict(backfill.time <= target)
    );
    let rows = cache.count().await?;
    println!("  cache holds {rows} events");
    Ok(())
}

/// Nearest-rank percentile of sorted `times`.
fn percentile(times: &[Duration], p: usize) -> Duration {
    let rank = (times.len() * p).div_ceil(100).max(1);
    times.get(rank - 1).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn verdict(met: bool) -> &'static str {
    if met {
        "MET"
    } else {
        "NOT MET"
    }
}

fn file_mb(path: &Path) -> Option<f64> {
    let main = std::fs::metadata(path).ok()?.len();
    let wal = std::fs::metadata(path.with_extension("sqlite-wal")).map_or(0, |m| m.len());
    Some((main + wal) as f64 / 1e6)
}

async fn print_machine(path: &Path) -> anyhow::Result<()> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']))
        .unwrap_or("unknown CPU");
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|l| l.trim().trim_end_matches(" kB").parse::<u64>().ok())
        .map_or_else(
            || "unknown memory".to_owned(),
            |kb| format!("{:.1} GB RAM", kb as f64 / 1024.0 / 1024.0),
        );
    // A second connection only to ask the SQLite library's version; the cache does not expose it.
    let version: String = {
        let url = format!("sqlite://{}?mode=ro", path.display());
        let pool = sqlx::SqlitePool::connect(&url)
            .await
            .context("cannot open the cache read-only")?;
        let v = sqlx::query_scalar("SELECT sqlite_version()")
            .fetch_one(&pool)
            .await?;
        pool.close().await;
        v
    };
    println!(
        "machine: {cpu}, {cores} cores, {mem}, {} {}, SQLite {version}",
        std::env::consts::OS,
        std::env::consts::ARCH
    );
    Ok(())
}

type MakeQuery = fn(&mut Rng, i64) -> SearchQuery;

/// The typical searches: what the history view asks for.
fn searches() -> [(&'static str, MakeQuery); 4] {
    [
        ("last 24 h, 1 camera", |rng, _| SearchQuery {
            from_ms: Some(END_MS - DAY_MS),
            to_ms: Some(END_MS + 1),
            devices: vec![device_id(rng.below(CAMERAS))],
            limit: LIMIT,
            ..SearchQuery::default()
        }),
        ("7 days, 2 cameras", |rng, first_ms| {
            week_of_two(rng, first_ms, None)
        }),
        ("7 days, 2 cameras, common word", |rng, first_ms| {
            week_of_two(rng, first_ms, Some(COMMON_WORD))
        }),
        ("7 days, 2 cameras, rare word", |rng, first_ms| {
            week_of_two(rng, first_ms, Some(RARE_WORD))
        }),
    ]
}

fn week_of_two(rng: &mut Rng, first_ms: i64, text: Option<&str>) -> SearchQuery {
    let span = END_MS - first_ms - 7 * DAY_MS;
    let from = first_ms + rng.below_i64(span);
    let a = rng.below(CAMERAS);
    let b = (a + 1 + rng.below(CAMERAS - 1)) % CAMERAS;
    SearchQuery {
        from_ms: Some(from),
        to_ms: Some(from + 7 * DAY_MS),
        devices: vec![device_id(a), device_id(b)],
        text: text.map(str::to_owned),
        limit: LIMIT,
        ..SearchQuery::default()
    }
}

fn device_id(camera: usize) -> String {
    format!("cam-{:02}", camera + 1)
}

struct Ingested {
    events: usize,
    messages: usize,
    time: Duration,
    wall: Duration,
}

/// Everything the feed has, in batches; only the `apply` calls are timed.
async fn ingest(cache: &Cache, feed: &mut Feed, rng: &mut Rng) -> anyhow::Result<Ingested> {
    let wall = Instant::now();
    let mut time = Duration::ZERO;
    let mut messages = 0;
    let mut next_report = 100_000;
    loop {
        let batch = feed.next_batch(BATCH, rng);
        if batch.is_empty() {
            break;
        }
        messages += batch.len();
        let start = Instant::now();
        cache.apply(&batch, &[]).await?;
        time += start.elapsed();
        if feed.emitted >= next_report {
            eprintln!(
                "  ingest: {} events, {:.0} events/s so far",
                feed.emitted,
                feed.emitted as f64 / time.as_secs_f64()
            );
            next_report += 100_000;
        }
    }
    Ok(Ingested {
        events: feed.emitted,
        messages,
        time,
        wall: wall.elapsed(),
    })
}

struct Backfilled {
    events: usize,
    messages: usize,
    overlap: usize,
    time: Duration,
}

/// `count` events that arrived while the app was closed, as the ksqlDB source's pull query
/// returns them: every stream message since the newest cached event less the overlap (so the
/// last minutes already cached come again), in order, applied in batches of [`BATCH`].
async fn backfill(
    cache: &Cache,
    feed: &mut Feed,
    count: usize,
    rng: &mut Rng,
) -> anyhow::Result<Backfilled> {
    let newest = cache
        .newest()
        .await?
        .context("the cache is empty before the backfill")?;
    let since = newest.event_ms - BACKFILL_OVERLAP_MS;
    // The same rate as the year before: the app was closed for a while.
    let gap_ms = (END_MS - feed.first_ms) / feed.total as i64 * count as i64;
    let mut missed = Feed::new(END_MS + 1000, END_MS + gap_ms, count);
    let mut overlap: Vec<MotionEvent> = std::mem::take(&mut feed.history)
        .into_iter()
        .filter(|e| e.timestamp_ms.unwrap_or(0) >= since)
        .collect();
    let overlap_len = overlap.len();
    let mut messages = 0;
    let start = Instant::now();
    loop {
        let mut batch: Vec<MotionEvent> = overlap.drain(..overlap.len().min(BATCH)).collect();
        if batch.len() < BATCH {
            batch.extend(missed.next_batch(BATCH - batch.len(), rng));
        }
        if batch.is_empty() {
            break;
        }
        messages += batch.len();
        cache.apply(&batch, &[]).await?;
    }
    Ok(Backfilled {
        events: missed.emitted,
        messages,
        overlap: overlap_len,
        time: start.elapsed(),
    })
}

/// A stream of messages as cameras publish them, oldest first: `total` events spread evenly
/// (with jitter) from `first_ms` to `last_ms`; half of them as `motion_started` followed a few
/// messages later by their `clip_ready`, the other half as a `clip_ready` alone.
struct Feed {
    first_ms: i64,
    last_ms: i64,
    total: usize,
    /// Events started so far.
    emitted: usize,
    /// `clip_ready` messages not yet sent, with how many messages to wait before sending each.
    pending: Vec<(usize, MotionEvent)>,
    /// The messages of the last minutes, for the backfill's overlap.
    history: Vec<MotionEvent>,
}

impl Feed {
    fn new(first_ms: i64, last_ms: i64, total: usize) -> Feed {
        Feed {
            first_ms,
            last_ms,
            total,
            emitted: 0,
            pending: Vec::new(),
            history: Vec::new(),
        }
    }

    fn next_batch(&mut self, size: usize, rng: &mut Rng) -> Vec<MotionEvent> {
        let mut batch = Vec::with_capacity(size);
        while batch.len() < size {
            if let Some(i) = self.pending.iter().position(|(wait, _)| *wait == 0) {
                let (_, ready) = self.pending.swap_remove(i);
                batch.push(ready);
                continue;
            }
            if self.emitted == self.total {
                // The stream's end: the clips still being uploaded arrive now.
                match self.pending.pop() {
                    Some((_, ready)) => {
                        batch.push(ready);
                        continue;
                    }
                    None => break,
                }
            }
            for (wait, _) in &mut self.pending {
                *wait -= 1;
            }
            let (started, ready) = self.event(rng);
            match started {
                Some(started) => {
                    batch.push(started);
                    self.pending.push((1 + rng.below(3), ready));
                }
                None => batch.push(ready),
            }
        }
        self.history.extend(batch.iter().cloned());
        // Keep about the last hour of messages: more than any overlap needs.
        let keep = 400;
        if self.history.len() > 2 * keep {
            self.history.drain(..self.history.len() - keep);
        }
        batch
    }

    /// The next event: its `motion_started` (for half of them) and its `clip_ready`.
    fn event(&mut self, rng: &mut Rng) -> (Option<MotionEvent>, MotionEvent) {
        let i = self.emitted as i64;
        self.emitted += 1;
        let step = (self.last_ms - self.first_ms) / self.total.max(1) as i64;
        let ms = self.first_ms + i * step + rng.below_i64(step.max(1));
        let camera = rng.below(CAMERAS);
        let device_id = device_id(camera);
        let event_id = format!(
            "{:08x}-{:04x}-7{:03x}-{:04x}-{:012x}",
            ms >> 16,
            ms & 0xffff,
            rng.next() & 0xfff,
            0x8000 | (rng.next() & 0x3fff),
            rng.next() & 0xffff_ffff_ffff
        );
        let time = Utc
            .timestamp_millis_opt(ms)
            .single()
            .map(|t| t.format(motion_event::TIME_FORMAT).to_string())
            .unwrap_or_default();
        let day = time.get(..10).unwrap_or("").replace('-', "/");
        let base = format!("http://s3.local/motion/{device_id}/{day}/{event_id}");
        let message = message(rng);
        let ready = MotionEvent {
            event_id,
            device_id,
            device_name: NAMES[camera].to_owned(),
            device_type: "camera".into(),
            url: format!("{base}.mp4"),
            time,
            message,
            snapshot_url: Some(format!("{base}.jpg")),
            kind: Some(EventKind::ClipReady),
            timestamp_ms: Some(ms),
            duration_s: Some(5.0 + rng.below(55) as f64),
        };
        let started = (rng.below(2) == 0).then(|| MotionEvent {
            url: String::new(),
            kind: Some(EventKind::MotionStarted),
            duration_s: None,
            message: "Motion detected".into(),
            ..ready.clone()
        });
        (started, ready)
    }
}

/// Mostly edge-node's own text, some from other producers, a few with a word of their own (so
/// the full-text index has a long tail of terms), and the rare word now and then.
fn message(rng: &mut Rng) -> String {
    let roll = rng.below(10_000);
    let mut text = match roll {
        0..=6_999 => "Motion detected".to_owned(),
        7_000..=7_999 => format!("Motion continues (part {})", 2 + rng.below(4)),
        _ => OTHER_MESSAGES[rng.below(OTHER_MESSAGES.len())].to_owned(),
    };
    if rng.below(5) == 0 {
        text.push_str(&format!(" near tag{:x}", rng.next() & 0xff_ffff));
    }
    if rng.below(2_000) == 0 {
        text.push_str(&format!(" {RARE_WORD} seen"));
    }
    text
}

/// splitmix64: a seeded generator, so every run builds the same cache; ten lines instead of a
/// dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn below_i64(&mut self, n: i64) -> i64 {
        (self.next() % n.max(1) as u64) as i64
    }
}
