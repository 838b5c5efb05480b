//! A bad `TOKIO_DOCTOR_*` value is refused at start, with an error that
//! names the variable, echoes the value and says what is accepted, whether
//! the value does not parse or parses but is out of range.

use tokio_doctor::{Doctor, ENV_VARS};

/// One test function, so no other test of this binary reads the
/// environment while it is changed.
#[test]
fn every_variable_refuses_garbage_and_names_itself_and_its_form() {
    for (var, form, default) in ENV_VARS {
        for bad in [
            "garbage",
            "",
            "-1",
            "1e999s",
            "\n\"x\\",
            "99999999999999999999",
        ] {
            std::env::set_var(var, bad);
            let result = Doctor::from_env();
            std::env::remove_var(var);
            let Err(err) = result else {
                // Some variables accept some of these (`off`-like values).
                continue;
            };
            let msg = err.to_string();
            assert!(msg.contains(var), "{var}={bad:?}: {msg}");
            assert!(msg.contains(&format!("{bad:?}")), "{var}={bad:?}: {msg}");
            assert!(msg.contains(form), "{var}={bad:?}: {msg}");
        }
        // The documented default is accepted.
        std::env::set_var(var, default);
        let result = Doctor::from_env();
        std::env::remove_var(var);
        assert!(result.is_ok(), "{var}={default}: {:?}", result.err());
    }
}

#[test]
fn a_value_that_parses_but_is_out_of_range_names_the_variable_too() {
    let cases = [
        ("TOKIO_DOCTOR_LABEL_CAP", "0", "between 1 and 100000"),
        (
            "TOKIO_DOCTOR_BLOCKING_POLL_THRESHOLD",
            "0ms",
            "greater than zero",
        ),
        (
            "TOKIO_DOCTOR_SAMPLE_INTERVAL",
            "20s",
            "three sample intervals",
        ),
        ("TOKIO_DOCTOR_ALLOW", "10.0.0.0/33", "CIDR"),
    ];
    for (var, value, why) in cases {
        let err = tokio_doctor::fuzz::env_config(&[(var, value)])
            .expect_err(var)
            .to_string();
        assert!(err.contains(var), "{err}");
        assert!(err.contains(&format!("{value:?}")), "{err}");
        assert!(err.contains(why), "{err}");
    }
    assert_eq!(
        tokio_doctor::fuzz::env_config(&[("TOKIO_DOCTOR_LABEL_CAP", "0")])
            .unwrap_err()
            .to_string(),
        "invalid tokio-doctor setting `TOKIO_DOCTOR_LABEL_CAP`: got \"0\", expected an integer \
         from 1 to 100000 (`label_cap` must be between 1 and 100000)"
    );
}
