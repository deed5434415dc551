//! Multipart decoder: the first line is the Content-Type, the rest the body.
#![no_main]
use libfuzzer_sys::fuzz_target;
use palisade_engine::decode::{multipart::decode_multipart, CollectingSink, Limits};

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let (ct, body) = data.split_at(split);
    let mut sink = CollectingSink::default();
    decode_multipart(ct, body, Limits { max_depth: 64, inspect_file_contents: true }, &mut sink);
    decode_multipart(b"multipart/form-data; boundary=XyZ", data, Limits { max_depth: 8, inspect_file_contents: false }, &mut sink);
});
