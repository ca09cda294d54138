//! `bench-push-start`: how soon a new event reaches the desktop cache when the ksqlDB server's
//! push query starts consuming late (`bench/push-start/run`, README there).
//!
//! For each push-start delay D, a fresh `ksqldb-double --push-start-delay D` and a fresh
//! `motion-in-motion sync` (empty cache) are started on the local stack; once the push query's
//! header is out (the app is connected, the server not consuming yet), events are produced
//! one by one, evenly over the next D + 2 s, each carrying its production time in
//! `timestamp_ms`. The delay of an event is the cache's `received_ms` minus that time (one
//! clock: this machine's). Printed per D: events produced and cached (lost = produced − cached),
//! p50 / p95 / max delay, and the target: p95 <= D + 1 s.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use motion_e2e::app::Sync;
use motion_e2e::cache::delays_ms;
use motion_e2e::ksqldb::{event, Double};
use motion_e2e::{unique, wait_for, Stack};
use motion_event::EventKind;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;

const EVENTS: u32 = 25;
const WAIT: Duration = Duration::from_secs(180);

#[derive(clap::Parser)]
struct Args {
    /// Push-start delays to measure, seconds.
    #[arg(long, value_delimiter = ',', default_value = "0,1,3,5,10")]
    delays: Vec<f64>,
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Args = clap::Parser::parse();
    let stack = Stack::get();
    let mut config = ClientConfig::new();
    for (k, v) in stack.kafka().client_properties() {
        config.set(k, v);
    }
    // One producer, connected before anything is timed, sending each record at once.
    let producer: FutureProducer = config
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "0")
        .create()
        .context("Kafka producer")?;
    let mut all_met = true;
    println!(
        "{:>9} {:>8} {:>6} {:>5} {:>8} {:>8} {:>8} {:>9}  verdict",
        "delay_s", "produced", "cached", "lost", "p50_s", "p95_s", "max_s", "target_s"
    );
    for delay in args.delays {
        let dir = tempfile::tempdir()?;
        let double = Double::start(dir.path(), &["--push-start-delay", &delay.to_string()]);
        let device = unique("bench-push-start");
        let db = dir.path().join("cache.sqlite");
        let sync = Sync::ksqldb(&db, &double.url(), &[], &[]);
        wait_for("the push query's header", WAIT, || {
            (double.stat("push_queries") >= 1).then_some(())
        });
        let window = Duration::from_secs_f64(delay + 2.0);
        let started = Instant::now();
        for n in 0..EVENTS {
            let at = window.mul_f64(f64::from(n) / f64::from(EVENTS));
            tokio::time::sleep_until((started + at).into()).await;
            // Stamped when it is sent: the delay measured is the system's, not this loop's.
            let mut e = event(&device, n, EventKind::MotionStarted);
            e.timestamp_ms = Some(chrono::Utc::now().timestamp_millis());
            let value = e.to_json();
            producer
                .send(
                    FutureRecord::to(&double.topic)
                        .key(e.event_id.as_str())
                        .payload(value.as_slice()),
                    Timeout::After(Duration::from_secs(30)),
                )
                .await
                .map_err(|(err, _)| err)
                .with_context(|| format!("producing {}", e.event_id))?;
        }
        let produced = EVENTS as usize;
        let deadline = Instant::now() + Duration::from_secs_f64(delay + 60.0);
        let mut delays = delays_ms(&db, &device).unwrap_or_default();
        while delays.len() < produced && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(200)).await;
            delays = delays_ms(&db, &device).unwrap_or_default();
        }
        delays.sort_unstable();
        let s = |ms: i64| ms as f64 / 1000.0;
        let (p50, p95, max) = (
            s(percentile(&delays, 0.5)),
            s(percentile(&delays, 0.95)),
            s(delays.last().copied().unwrap_or(0)),
        );
        let target = delay + 1.0;
        let met = delays.len() == produced && p95 <= target;
        all_met &= met;
        println!(
            "{delay:>9.1} {produced:>8} {:>6} {:>5} {p50:>8.3} {p95:>8.3} {max:>8.3} {target:>9.1}  {}",
            delays.len(),
            produced.saturating_sub(delays.len()),
            if met { "met" } else { "NOT MET" }
        );
        if delays.len() < produced {
            eprintln!("sync log:\n{}", sync.log());
        }
    }
    if !all_met {
        bail!("a target was not met");
    }
    Ok(())
}
