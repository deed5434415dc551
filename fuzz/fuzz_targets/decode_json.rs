//! JSON decoder: never panics, bounded depth, every leaf reported.
#![no_main]
use libfuzzer_sys::fuzz_target;
use palisade_engine::decode::{json::decode_json, CollectingSink, Limits};

fuzz_target!(|data: &[u8]| {
    let mut sink = CollectingSink::default();
    decode_json(data, Limits { max_depth: 64, inspect_file_contents: true }, &mut sink);
});
