//! S3 down and a 1 MiB spool: the recorder refuses new clips, the heartbeat says the spool is
//! full, and everything recorded is delivered once S3 is back.

use motion_e2e::app::Source;
use motion_e2e::faults::{delivered, motion_scene, scenario_dir, spooled, Outcome};
use motion_e2e::node::Targets;
use motion_e2e::servers::PrivateS3;
use motion_e2e::{now_ms, unique, wait_for};

use super::*;

/// Scenario 5: the spool at its cap: S3 down, 1 MiB of spool.
pub(super) fn spool_full() -> Outcome {
    let dir = scenario_dir("spool");
    let mut s3 = PrivateS3::start(dir.path());
    let down = now_ms();
    s3.stop();
    let targets = Targets {
        s3_endpoint: s3.endpoint(),
        ..stack_targets("faults-spool")
    };
    let id = unique("fspool");
    let desktop = Desktop::start(
        dir.path(),
        std::slice::from_ref(&id),
        Source::kafka(&targets.topic),
    );
    // 640x480: clips of ~0.5 MB, so two fill the 1 MiB spool.
    let cam = camera(
        &dir.path().join(&id),
        &id,
        &motion_scene(640, 480, 2.0),
        &targets,
        &[("record", "spool_max_mib", 1)],
    );

    // Two events whose clips are refused.
    wait_for("the recorder to refuse two clips", WAIT, || {
        (count(&cam.log(), "spool is full") >= 2).then_some(())
    });
    let full = |want: bool| {
        devices_of(&desktop.db, &id)
            .filter(|d| d["spool_full"] == want)
            .map(|_| ())
    };
    wait_for("the desktop to show the spool full", WAIT, || full(true));
    let refused_before_s3 = count(&cam.log(), "spool is full");
    s3.resume();
    let up = now_ms();
    // Everything recorded goes out, space is freed, and clips are recorded again.
    let clips = spooled(&cam.lines(), "clip");
    cam.wait_lines("a clip recorded again", WAIT, |l| {
        (spooled(l, "clip") > clips && delivered(l, "clip_ready") > clips).then_some(())
    });
    wait_for("the desktop to show the spool no longer full", WAIT, || {
        full(false)
    });
    let lines = cam.interrupt(STOP);

    let label = format!("5 spool full, S3 down {:.0} s", secs(down, up));
    let mut out = desktop.settle(&label, &lines, &targets, &[(down, up)], SETTLE);
    let produced = motion_e2e::faults::produced(&lines);
    let clipless = produced.values().filter(|p| p.clip.is_none()).count();
    out.notes.push(format!(
        "{refused_before_s3} clip(s) refused while full (\"spool is full\" logged); {clipless} \
         event(s) alerted with their snapshot only; the desktop saw spool_full true, then false"
    ));
    assert!(
        refused_before_s3 >= 1 && clipless >= 1,
        "the recorder never refused a clip: {refused_before_s3} refusals logged, {clipless} \
         events without a clip"
    );
    out
}
