//! The ksqlDB response parser (`ksqldb::wire`, `ksqldb/src/wire.rs`) on arbitrary bodies cut
//! into reads at points the fuzzer chooses: it never panics, and the frames (and whether and
//! where it fails on an overlong line) do not depend on the cuts: the same as the body fed in
//! one read, and as fed byte by byte.
//!
//! Input layout: byte 0 holds the number of cuts (bits 0-2) and the line limit (bits 3-7: 1 to
//! 15 give a limit of 8 to 120 bytes, so that small inputs reach it; else the real one); then
//! two bytes per cut (little-endian offsets, taken modulo the body's length + 1); the rest is
//! the body. `scripts/fuzz` seeds the corpus with the wire specification's bodies behind a 0.

#![no_main]

use ksqldb::wire::{Frame, Parser, WireError, MAX_LINE_BYTES};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, PartialEq)]
struct Outcome {
    frames: Vec<Frame>,
    error: Option<WireError>,
}

/// Feeds `pieces` in order, then finishes, checking the parser's contract on the way.
fn run(limit: usize, pieces: &[&[u8]]) -> Outcome {
    let mut parser = Parser::with_line_limit(limit);
    let mut frames = Vec::new();
    for piece in pieces {
        match parser.feed(piece) {
            Ok(more) => frames.extend(more),
            Err(err) => {
                assert_eq!(parser.error(), Some(&err), "an error it does not keep");
                break;
            }
        }
        if parser.error().is_some() {
            break;
        }
    }
    let rest = parser.finish();
    if parser.error().is_some() {
        assert!(rest.is_empty(), "frames after a failure: {rest:?}");
    }
    frames.extend(rest);
    // Ended for good: more bytes give nothing (or the same error), and finishing again too.
    assert!(parser.ended());
    match parser.feed(b"[\"late\"]\n{\"finalMessage\":\"x\"}\n") {
        Ok(late) => assert!(late.is_empty(), "frames after the end: {late:?}"),
        Err(err) => assert_eq!(parser.error(), Some(&err)),
    }
    assert!(parser.finish().is_empty());
    // A terminal frame can only be the last one.
    if let Some(i) = frames.iter().position(Frame::is_terminal) {
        assert_eq!(
            i + 1,
            frames.len(),
            "frames after a terminal one: {frames:?}"
        );
    }
    Outcome {
        frames,
        error: parser.error().cloned(),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let cuts = usize::from(control & 0b111);
    let limit = match control >> 3 {
        v @ 1..=15 => usize::from(v) * 8,
        _ => MAX_LINE_BYTES,
    };
    if rest.len() < cuts * 2 {
        return;
    }
    let (cut_bytes, body) = rest.split_at(cuts * 2);
    let mut offsets: Vec<usize> = cut_bytes
        .chunks_exact(2)
        .map(|b| usize::from(u16::from_le_bytes([b[0], b[1]])) % (body.len() + 1))
        .collect();
    offsets.sort_unstable();
    let mut pieces = Vec::new();
    let mut at = 0;
    for cut in offsets {
        pieces.push(&body[at..cut]);
        at = cut;
    }
    pieces.push(&body[at..]);

    let whole = run(limit, &[body]);
    let cut = run(limit, &pieces);
    assert_eq!(cut, whole, "cut at {pieces:?}");
    if body.len() <= 4096 {
        let bytes: Vec<&[u8]> = body.chunks(1).collect();
        assert_eq!(run(limit, &bytes), whole, "byte by byte");
    }
});
