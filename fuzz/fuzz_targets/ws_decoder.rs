#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| engineio_server::fuzzing::ws_decoder(data));
