//! Form / query decoder.
#![no_main]
use libfuzzer_sys::fuzz_target;
use palisade_engine::decode::{form::decode_form, CollectingSink};
use palisade_engine::leaf::Location;

fuzz_target!(|data: &[u8]| {
    let mut sink = CollectingSink::default();
    decode_form(data, Location::Query, &mut sink);
});
