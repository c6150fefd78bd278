//! Fuzzes templates (`{{reference}}` holes) and conditions (`policy.skipIf`, the router cue):
//! both come from melody files written by someone else and are filled with what models answered.
//!
//! An input is up to four parts separated by NUL bytes, so the seeds stay readable:
//! `template \0 values (JSON) \0 condition (JSON) \0 limit (decimal bytes)`. Missing or
//! unparsable parts fall back to no values, no condition and a limit of 64 bytes.
//!
//! Properties: nothing panics; a rendering within the limit is the unlimited rendering, and one
//! over it is an error, never a longer text; rendering under a limit never holds much more memory
//! than the limit (plus the template itself), however large the values are; a condition that
//! parses evaluates without panicking and survives a JSON round trip unchanged.
//!
//! Run: `scripts/fuzz 600 template` (see README "Fuzzing").

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use symphony_fuzz::peak_during;
use symphony_melody::reference::{walk, Reference};
use symphony_melody::{Condition, Template};

/// The limit when the input names none.
const DEFAULT_LIMIT: u64 = 64;

/// What rendering may allocate beyond `2 × (limit + template)`: a string's doubling growth and
/// the small blocks of a JSON serializer.
const SLACK: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|&b| b == 0);
    let text = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let values: Value = parts
        .next()
        .and_then(|p| serde_json::from_slice(p).ok())
        .unwrap_or(Value::Null);
    let condition = parts.next().and_then(|p| serde_json::from_slice(p).ok());
    let limit = parts
        .next()
        .and_then(|p| std::str::from_utf8(p).ok()?.trim().parse::<u64>().ok())
        .unwrap_or(DEFAULT_LIMIT);

    let lookup = |r: &Reference| walk(&values, &r.segments);
    if let Ok(template) = Template::parse(&text) {
        check_template(&template, text.len(), &lookup, limit);
    }
    if let Some(condition) = condition {
        check_condition(&condition, &lookup);
    }
});

fn check_template<'v>(
    template: &Template,
    text_len: usize,
    lookup: &dyn Fn(&Reference) -> Option<&'v Value>,
    limit: u64,
) {
    let (limited, peak) = peak_during(|| template.render_limited(lookup, limit));
    let full = template.render(lookup);
    match limited {
        Ok(out) => {
            assert!(
                out.len() as u64 <= limit,
                "rendered {} bytes under a limit of {limit}",
                out.len()
            );
            assert_eq!(out, full, "a limited rendering differs from the full one");
        }
        Err(reached) => {
            assert!(
                full.len() as u64 > limit,
                "refused a rendering of {} bytes under a limit of {limit}",
                full.len()
            );
            assert!(
                reached > limit,
                "refused at {reached} bytes, within the limit of {limit}"
            );
        }
    }
    let bound = usize::try_from(limit)
        .unwrap_or(usize::MAX)
        .saturating_add(text_len)
        .saturating_mul(2)
        .saturating_add(SLACK);
    assert!(
        peak <= bound,
        "rendering under a limit of {limit} bytes allocated {peak} bytes at once (bound {bound})"
    );
}

fn check_condition<'v>(condition: &Condition, lookup: &dyn Fn(&Reference) -> Option<&'v Value>) {
    let _ = condition.references();
    let _ = condition.evaluate(&mut |r| lookup(r));
    let json = serde_json::to_value(condition).expect("a condition serializes");
    let again: Condition = serde_json::from_value(json).expect("a serialized condition parses");
    assert_eq!(&again, condition, "a JSON round trip changed the condition");
}
