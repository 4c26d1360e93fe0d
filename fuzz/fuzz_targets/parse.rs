//! Feeds arbitrary bytes to the front end: decode, parse, check and, when the
//! program parses cleanly, format and parse again. Any panic, hang or stack
//! overflow is a bug; so is formatted text that does not parse back.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(source) = basic::decode(data) else { return };
    let parsed = basic::parse(source);
    let _ = basic::check(&parsed.program, &basic::CheckContext::default());
    if basic::has_errors(&parsed.diagnostics) {
        return;
    }
    let formatted = basic::format(&parsed.program);
    let again = basic::parse(&formatted);
    assert!(
        !basic::has_errors(&again.diagnostics),
        "formatted text does not parse: {:?}\n{formatted}",
        again.diagnostics
    );
    assert_eq!(basic::format(&again.program), formatted, "formatting is not idempotent");
});
