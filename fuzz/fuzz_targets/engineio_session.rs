#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| engineio_parser::fuzzing::session(data));
