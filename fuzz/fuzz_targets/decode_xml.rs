//! XML scanner: never panics on malformed markup, DOCTYPEs or entities.
#![no_main]
use libfuzzer_sys::fuzz_target;
use palisade_engine::decode::{xml::decode_xml, CollectingSink, Limits};

fuzz_target!(|data: &[u8]| {
    let mut sink = CollectingSink::default();
    decode_xml(data, Limits { max_depth: 64, inspect_file_contents: true }, &mut sink);
});
