//! Every `TOKIO_DOCTOR_*` variable with arbitrary values: never a panic,
//! and a refused value is named, with the form it accepts.
//!
//! Input: lines; a line's first byte picks the variable, the rest is its
//! value. The values also go through the duration and allow-list parsers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tokio_doctor::ENV_VARS;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let vars: Vec<(&str, &str)> = text
        .split('\n')
        .filter_map(|line| {
            let pick = *line.as_bytes().first()? as usize;
            let value = line.get(1..).unwrap_or("");
            Some((ENV_VARS[pick % ENV_VARS.len()].0, value))
        })
        .collect();
    for (_, value) in &vars {
        let _ = tokio_doctor::fuzz::parse_duration(value);
        let _ = tokio_doctor::fuzz::allow_list(value, "10.1.2.3".parse().unwrap());
        let _ = tokio_doctor::fuzz::allow_list(value, "::ffff:127.0.0.1".parse().unwrap());
    }
    if let Err(e) = tokio_doctor::fuzz::env_config(&vars) {
        let msg = e.to_string();
        assert!(
            vars.iter().any(|(name, _)| msg.contains(name)),
            "the error names no variable that was set: {msg}"
        );
        assert!(msg.contains("expected"), "the error says no accepted form: {msg}");
    }
});
