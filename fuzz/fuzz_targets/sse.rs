//! Fuzzes the server-sent-events parser that reads a model's streamed answer: a server (or
//! whatever sits between it and us) decides every byte and where the chunks break.
//!
//! The input is a response body. Each one is fed whole, one byte at a time, and in chunks of
//! pseudo-random sizes drawn from the input's hash; under the default line limit and under a
//! small one drawn from the hash too.
//!
//! Properties: nothing panics; how the body is cut never changes the events or whether the
//! stream is refused; a line longer than the limit is refused, and an event returned holds no
//! more than the limit; while it reads, the parser never holds much more than the limit and the
//! chunk in hand, and between chunks it keeps no more than about the limit.
//!
//! Run: `scripts/fuzz 600 sse` (see README "Fuzzing").

#![no_main]

use libfuzzer_sys::fuzz_target;
use symphony_fuzz::{live, peak_during};

/// The parser, compiled from its source: it depends on nothing in its crate but this file (see
/// its module documentation), and so the fuzz build does not pull in the HTTP stack.
#[allow(dead_code)]
#[path = "../../crates/symphony-instruments/src/sse.rs"]
mod sse;

use sse::{SseEvent, SseParser};

/// Small allocations beyond what the limit explains: vectors' first blocks, event structs.
const SLACK: usize = 256;

/// What feeding a body produced: its events, or `None` when the parser refused the stream (the
/// events handed over before that depend on where the chunks broke, and are not compared).
type Outcome = Option<Vec<SseEvent>>;

fuzz_target!(|data: &[u8]| {
    let hash = fnv1a(data);
    let small = 1 + hash % 64;
    for limit in [symphony_melody::limits::SSE_LINE_BYTES.default, small] {
        let whole = feed(&[data], limit);
        check_lines(data, limit, &whole);
        let bytes: Vec<&[u8]> = data.chunks(1).collect();
        assert_eq!(feed(&bytes, limit), whole, "one byte at a time, limit {limit}");
        let pieces = random_pieces(data, hash);
        assert_eq!(feed(&pieces, limit), whole, "in pieces {pieces:?}, limit {limit}");
    }
});

/// Feeds `chunks` to a parser with `limit`, checking what it holds at every step.
fn feed(chunks: &[&[u8]], limit: u64) -> Outcome {
    let base = live();
    let mut parser = SseParser::with_limit(limit);
    let limit_bytes = usize::try_from(limit).expect("the limits fit in memory");
    let mut events = Vec::new();
    for chunk in chunks {
        let (pushed, peak) = peak_during(|| parser.push_limited(chunk));
        // The events a chunk completes are made from it: at most one per six bytes
        // (`data\n\n`), a few dozen bytes each while their vector grows.
        let bound = 8 * limit_bytes + 32 * chunk.len() + SLACK;
        assert!(
            peak <= bound,
            "a chunk of {} bytes under a limit of {limit} made the parser allocate {peak} bytes at once (bound {bound})",
            chunk.len()
        );
        let Ok(mut new) = pushed else {
            return None;
        };
        // What the parser keeps between chunks, without the events it handed over.
        let held = live().saturating_sub(base + heap_size(&events) + heap_size(&new));
        let kept = 8 * (limit_bytes + 16) + SLACK;
        assert!(
            held <= kept,
            "between chunks the parser kept {held} bytes under a limit of {limit} (bound {kept})"
        );
        events.append(&mut new);
    }
    events.extend(parser.finish().ok()?);
    Some(events)
}

/// A line longer than the limit is refused; an event handed over holds no more than it.
fn check_lines(data: &[u8], limit: u64, outcome: &Outcome) {
    let longest = data.split(|&b| b == b'\n').map(<[u8]>::len).max();
    let Some(events) = outcome else {
        return;
    };
    if let Some(n) = longest.filter(|&n| n as u64 > limit) {
        panic!("a line of {n} bytes passed a limit of {limit}");
    }
    for e in events {
        assert!(e.data.len() as u64 <= limit, "an event's data passed the limit of {limit}");
        // The name's line was within the limit; a byte that is not UTF-8 reads as U+FFFD,
        // three bytes.
        let name = e.event.as_ref().map_or(0, String::len);
        assert!(name as u64 <= 3 * limit, "an event's name passed its line's limit of {limit}");
    }
}

/// The bytes `events` holds on the heap, as the allocator counted them (capacities).
#[allow(clippy::ptr_arg)] // the vector's own capacity counts
fn heap_size(events: &Vec<SseEvent>) -> usize {
    events.capacity() * std::mem::size_of::<SseEvent>()
        + events
            .iter()
            .map(|e| e.data.capacity() + e.event.as_ref().map_or(0, String::capacity))
            .sum::<usize>()
}

/// Cuts `data` into pieces of 1 to 16 bytes, sizes drawn from `seed`.
fn random_pieces(data: &[u8], mut seed: u64) -> Vec<&[u8]> {
    let mut pieces = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        // xorshift64: any cheap, deterministic sequence will do.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let n = (1 + seed % 16) as usize;
        let (piece, tail) = rest.split_at(n.min(rest.len()));
        pieces.push(piece);
        rest = tail;
    }
    pieces
}

fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
