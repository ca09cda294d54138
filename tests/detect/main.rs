//! The detector against every labelled clip (tests/clips/scenarios.json), real footage and
//! generated scenes alike, through the real `edge-node detect`. The clips are the ones
//! tests/clips/render makes, the only place that says how a clip is encoded, so this test and the
//! detector benchmark judge the same files. One scoring rule holds for every clip because it is
//! the product's promise, not a per-clip allowance: motion is reported within a second of it
//! starting, and nothing is reported where nothing moves. Both input paths are scored, raw Y4M
//! (read natively, like the Pi camera's V4L2 frames) and H.264 MP4 (decoded by ffmpeg, like an IP
//! camera's stream), and they must find the same events: which camera a user has must not change
//! what is detected.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use motion_e2e::{bin, repo_root};
use serde::Deserialize;
use serde_json::Value;

/// An event may start this much before the labelled start of the motion (the labels are the
/// first frame of visible motion; pre-capture and rounding put events slightly earlier).
const EARLY_TOLERANCE_S: f64 = 0.5;
/// The product target: motion is detected within 1.0 s of entering the scene.
const LATE_TOLERANCE_S: f64 = 1.0;
/// An event is false when it overlaps no truth interval widened by this much on each side.
const FALSE_EVENT_MARGIN_S: f64 = 0.5;
/// Corresponding events of a scenario's raw and H.264 clips start at most this far apart.
const FORMAT_AGREEMENT_S: f64 = 0.5;

/// One clip of tests/clips/render's manifest (the fields this test uses).
#[derive(Debug, Deserialize)]
struct Clip {
    name: String,
    format: String,
    path: PathBuf,
    frames: u64,
    truth: Vec<(f64, f64)>,
    mask: Option<String>,
    /// The scenario's own detector settings; they override detect.toml's.
    detect: Option<toml::Table>,
}

#[derive(Debug, Deserialize)]
struct Manifest {
    clips: Vec<Clip>,
}

/// What `edge-node detect --json` printed for one clip.
struct Detected {
    events: Vec<(f64, f64)>,
    frames: u64,
}

/// One clip and what the detector made of it (or why it could not run).
struct Run {
    clip: Clip,
    detected: Result<Detected, String>,
}

/// Every clip, run once through the detector; shared by the tests below.
fn runs() -> &'static Result<Vec<Run>, String> {
    static RUNS: OnceLock<Result<Vec<Run>, String>> = OnceLock::new();
    RUNS.get_or_init(run_all)
}

fn run_all() -> Result<Vec<Run>, String> {
    let clips = render()?.clips;
    if clips.is_empty() {
        return Err("tests/clips/render listed no clips".into());
    }
    let base = base_config()?;
    let dir = tempfile::tempdir().map_err(|e| format!("cannot make a temp dir: {e}"))?;
    println!(
        "{:<20} {:<6} {:>6}  {:<32} {:<22} verdict",
        "scenario", "format", "frames", "events", "truth"
    );
    let mut runs = Vec::with_capacity(clips.len());
    for clip in clips {
        let config = clip_config(&base, &clip)?;
        let file = dir
            .path()
            .join(format!("{}-{}.toml", clip.name, clip.format));
        std::fs::write(&file, &config)
            .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
        let run = Run {
            detected: detect(&clip.path, &file),
            clip,
        };
        print_row(&run);
        if run.clip.mask.is_some() || run.clip.detect.as_ref().is_some_and(|d| !d.is_empty()) {
            // Settings of the clip's own: show what the detector got.
            println!("{:>28}{}", "config: ", config.trim().replace('\n', " "));
        }
        runs.push(run);
    }
    Ok(runs)
}

/// Renders (or finds in its cache) every clip and reads the manifest it prints.
fn render() -> Result<Manifest, String> {
    let script = repo_root().join("tests/clips/render");
    let out = Command::new("python3")
        .arg(&script)
        .args(["--formats", "raw,h264"])
        .output()
        .map_err(|e| format!("cannot run python3 {}: {e}", script.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} failed ({}):\n{}",
            script.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "{} printed no valid manifest ({e}):\n{}",
            script.display(),
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// tests/clips/detect.toml, the settings shared by every clip.
fn base_config() -> Result<toml::Table, String> {
    let path = repo_root().join("tests/clips/detect.toml");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let doc: toml::Table = text
        .parse()
        .map_err(|e| format!("{} is not valid TOML: {e}", path.display()))?;
    if !doc.get("detect").is_some_and(toml::Value::is_table) {
        return Err(format!("{} has no [detect] table", path.display()));
    }
    Ok(doc)
}

/// The config file for one clip: detect.toml with the scenario's own `detect` settings and its
/// mask added to `[detect]`.
fn clip_config(base: &toml::Table, clip: &Clip) -> Result<String, String> {
    let mut doc = base.clone();
    let Some(toml::Value::Table(detect)) = doc.get_mut("detect") else {
        return Err("detect.toml's [detect] is not a table".into());
    };
    for (key, value) in clip.detect.iter().flatten() {
        detect.insert(key.clone(), value.clone());
    }
    if let Some(mask) = &clip.mask {
        detect.insert("mask_file".into(), toml::Value::String(mask.clone()));
    }
    toml::to_string(&doc).map_err(|e| format!("{}: cannot write its config: {e}", clip.name))
}

fn detect(input: &Path, config: &Path) -> Result<Detected, String> {
    let out = Command::new(bin("edge-node"))
        .arg("detect")
        .arg("--input")
        .arg(input)
        .arg("--config")
        .arg(config)
        .arg("--json")
        .output()
        .map_err(|e| format!("cannot run edge-node: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "edge-node detect failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let mut detected = Detected {
        events: Vec::new(),
        frames: 0,
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: Value = serde_json::from_str(line)
            .map_err(|e| format!("edge-node printed a line that is not JSON ({e}): {line}"))?;
        let number = |key: &str| {
            v.get(key)
                .and_then(Value::as_f64)
                .ok_or_else(|| format!("edge-node printed a line without a number {key}: {line}"))
        };
        if let Some(frames) = v.get("frames") {
            detected.frames = frames
                .as_u64()
                .ok_or_else(|| format!("edge-node's frame count is not a count: {line}"))?;
        } else {
            detected.events.push((number("start_s")?, number("end_s")?));
        }
    }
    Ok(detected)
}

/// How one truth interval fared.
enum Truth {
    /// Found; the event started this many seconds after the labelled start (negative: before).
    Hit(f64),
    Missed,
}

/// The scoring rule, the same for every clip: each truth interval hit, no false event.
fn score(truth: &[(f64, f64)], events: &[(f64, f64)]) -> (Vec<Truth>, Vec<(f64, f64)>) {
    let verdicts = truth
        .iter()
        .map(|&(start, _)| {
            events
                .iter()
                .map(|&(s, _)| s - start)
                .find(|delay| (-EARLY_TOLERANCE_S..=LATE_TOLERANCE_S).contains(delay))
                .map_or(Truth::Missed, Truth::Hit)
        })
        .collect();
    let false_events = events
        .iter()
        .copied()
        .filter(|&(s, e)| {
            !truth.iter().any(|&(start, end)| {
                s <= end + FALSE_EVENT_MARGIN_S && e >= start - FALSE_EVENT_MARGIN_S
            })
        })
        .collect();
    (verdicts, false_events)
}

/// The problems with one clip's events; empty if it passes.
fn problems(run: &Run) -> Vec<String> {
    let detected = match &run.detected {
        Ok(detected) => detected,
        Err(e) => return vec![e.clone()],
    };
    let mut problems = Vec::new();
    if detected.frames != run.clip.frames {
        problems.push(format!(
            "edge-node read {} frames, the clip has {}",
            detected.frames, run.clip.frames
        ));
    }
    let (verdicts, false_events) = score(&run.clip.truth, &detected.events);
    for (&(start, end), verdict) in run.clip.truth.iter().zip(&verdicts) {
        if let Truth::Missed = verdict {
            problems.push(format!(
                "missed the motion at {start}-{end} s (no event started in {:.1}-{:.1} s)",
                start - EARLY_TOLERANCE_S,
                start + LATE_TOLERANCE_S
            ));
        }
    }
    for (s, e) in false_events {
        problems.push(format!("false event at {s:.2}-{e:.2} s"));
    }
    problems
}

fn print_row(run: &Run) {
    let clip = &run.clip;
    let (frames, events, notes) = match &run.detected {
        Err(_) => ("-".to_owned(), "-".to_owned(), Vec::new()),
        Ok(d) => {
            let events = d
                .events
                .iter()
                .map(|(s, e)| format!("{s:.2}-{e:.2}"))
                .collect::<Vec<_>>();
            let (verdicts, false_events) = score(&clip.truth, &d.events);
            let mut notes: Vec<String> = verdicts
                .iter()
                .map(|v| match v {
                    Truth::Hit(delay) => format!("hit {delay:+.2} s"),
                    Truth::Missed => "MISSED".to_owned(),
                })
                .collect();
            if !false_events.is_empty() {
                notes.push(format!("{} FALSE", false_events.len()));
            }
            if d.frames != clip.frames {
                notes.push(format!("read {} of {} frames", d.frames, clip.frames));
            }
            (
                d.frames.to_string(),
                format!("{} [{}]", events.len(), events.join(", ")),
                notes,
            )
        }
    };
    let verdict = match (&run.detected, problems(run).is_empty()) {
        (Err(e), _) => format!("ERROR {e}"),
        (Ok(_), true) if notes.is_empty() => "ok".to_owned(),
        (Ok(_), true) => format!("ok: {}", notes.join(", ")),
        (Ok(_), false) => format!("FAIL: {}", notes.join(", ")),
    };
    let truth = clip
        .truth
        .iter()
        .map(|(s, e)| format!("{s}-{e}"))
        .collect::<Vec<_>>()
        .join(", ");
    println!(
        "{:<20} {:<6} {frames:>6}  {events:<32} {:<22} {verdict}",
        clip.name,
        clip.format,
        format!("[{truth}]")
    );
}

fn the_runs() -> &'static [Run] {
    match runs() {
        Ok(runs) => runs,
        Err(e) => panic!("cannot run the detector over the clips: {e}"),
    }
}

#[test]
fn every_labelled_motion_is_found_and_nothing_else() {
    let failures: Vec<String> = the_runs()
        .iter()
        .filter_map(|run| {
            let problems = problems(run);
            (!problems.is_empty()).then(|| {
                format!(
                    "{} ({}): {}",
                    run.clip.name,
                    run.clip.format,
                    problems.join("; ")
                )
            })
        })
        .collect();
    assert!(
        failures.is_empty(),
        "detection failures ({} of {} clips):\n{}",
        failures.len(),
        the_runs().len(),
        failures.join("\n")
    );
}

#[test]
fn raw_frames_and_h264_give_the_same_events() {
    let mut by_scenario: BTreeMap<&str, BTreeMap<&str, &Run>> = BTreeMap::new();
    for run in the_runs() {
        by_scenario
            .entry(&run.clip.name)
            .or_default()
            .insert(&run.clip.format, run);
    }
    let mut failures = Vec::new();
    for (name, formats) in by_scenario {
        let (Some(raw), Some(h264)) = (formats.get("raw"), formats.get("h264")) else {
            failures.push(format!("{name}: the manifest lacks its raw or h264 clip"));
            continue;
        };
        // A run that failed outright is reported by the detection test.
        let (Ok(raw), Ok(h264)) = (&raw.detected, &h264.detected) else {
            continue;
        };
        if raw.events.len() != h264.events.len() {
            failures.push(format!(
                "{name}: {} events from raw frames, {} from H.264",
                raw.events.len(),
                h264.events.len()
            ));
            continue;
        }
        for (i, (r, h)) in raw.events.iter().zip(&h264.events).enumerate() {
            if (r.0 - h.0).abs() > FORMAT_AGREEMENT_S {
                failures.push(format!(
                    "{name}: event {} starts at {:.2} s from raw frames, {:.2} s from H.264",
                    i + 1,
                    r.0,
                    h.0
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "raw frames and H.264 disagree:\n{}",
        failures.join("\n")
    );
}

#[test]
fn a_clips_own_settings_override_detect_toml_and_its_mask_is_added() {
    let base: toml::Table = "[detect]\nevent_gap = 2\nnoise_level = 32\n"
        .parse()
        .expect("a valid base config");
    let clip: Clip = serde_json::from_value(serde_json::json!({
        "name": "c", "format": "raw", "path": "/c.y4m", "frames": 1, "truth": [],
        "mask": "/m.pgm", "detect": {"noise_level": 20, "threshold": "1%", "noise_tune": false}
    }))
    .expect("a manifest entry");
    let config: toml::Table = clip_config(&base, &clip)
        .expect("a config")
        .parse()
        .expect("the config is TOML");
    let expected: toml::Table = "[detect]\nevent_gap = 2\nnoise_level = 20\nthreshold = \"1%\"\n\
                                 noise_tune = false\nmask_file = \"/m.pgm\"\n"
        .parse()
        .expect("valid expected config");
    assert_eq!(config, expected);
}

#[test]
fn the_scoring_rule_has_its_tolerances() {
    let truth = [(5.0, 8.0)];
    let hit = |start: f64| matches!(score(&truth, &[(start, 7.0)]).0[..], [Truth::Hit(_)]);
    assert!(hit(4.5) && hit(6.0) && hit(5.3));
    assert!(!hit(4.4) && !hit(6.1));
    let false_events = |event| score(&truth, &[event]).1.len();
    assert_eq!(
        false_events((8.4, 9.0)),
        0,
        "within the margin after the end"
    );
    assert_eq!(
        false_events((1.0, 4.6)),
        0,
        "within the margin before the start"
    );
    assert_eq!(false_events((8.6, 9.0)), 1);
    assert_eq!(false_events((1.0, 4.4)), 1);
    assert_eq!(
        score(&[], &[(1.0, 2.0)]).1.len(),
        1,
        "any event on a quiet clip"
    );
}

#[test]
fn a_missing_input_is_named_in_the_error() {
    let out = Command::new(bin("edge-node"))
        .args(["detect", "--input", "/nonexistent/clip.mp4", "--json"])
        .output()
        .expect("edge-node runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/nonexistent/clip.mp4"), "{stderr}");
}

#[test]
fn a_bad_detector_setting_is_named_and_nothing_runs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "[detect]\ndespeckle_filter = \"EedXl\"\n").expect("write config");
    let out = Command::new(bin("edge-node"))
        .args(["detect", "--input", "test", "--json", "--config"])
        .arg(&config)
        .output()
        .expect("edge-node runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("despeckle_filter"), "{stderr}");
    assert!(out.stdout.is_empty(), "printed events despite a bad config");
}
