//! The one table of settings: each [`DoctorBuilder`](crate::DoctorBuilder)
//! setter with its environment variable, the form the variable accepts, its
//! default and its parser. [`ENV_VARS`](crate::ENV_VARS), the environment
//! parser and the documentation's table all come from it, so they cannot
//! drift; setters without a variable are listed in [`NO_VARIABLE`] with
//! the reason.

use super::allow::{AllowList, FORM as ALLOW_FORM};
use super::{parse_bool, parse_duration, parse_names, Config};

/// One setting.
pub(crate) struct Setting {
    /// The builder method.
    pub(crate) setter: &'static str,
    /// Its `TOKIO_DOCTOR_*` variable.
    pub(crate) var: &'static str,
    /// What the variable accepts, in words.
    pub(crate) form: &'static str,
    /// The default, as the variable would spell it.
    pub(crate) default: &'static str,
    /// Sets the value in `config`; `None` when `value` is not of the form.
    pub(crate) apply: fn(&mut Config, &str) -> Option<()>,
}

const fn setting(
    setter: &'static str,
    var: &'static str,
    form: &'static str,
    default: &'static str,
    apply: fn(&mut Config, &str) -> Option<()>,
) -> Setting {
    Setting {
        setter,
        var,
        form,
        default,
        apply,
    }
}

const DURATION: &str = "a duration such as 10ms, 250us, 1.5s or 2m";
const WINDOW: &str = "a duration of at least three sample intervals, such as 10s";
const BOOL: &str = "`true` or `false`";

/// Every setting with a variable, grouped as the builder groups them.
pub(crate) const SETTINGS: &[Setting] = &[
    // The endpoint.
    setting(
        "listen",
        "TOKIO_DOCTOR_LISTEN",
        "an address such as 127.0.0.1:9464, or `off`",
        super::defaults::DEFAULT_LISTEN,
        |c, v| {
            c.listen = if v.eq_ignore_ascii_case("off") {
                None
            } else {
                Some(v.parse().ok()?)
            };
            Some(())
        },
    ),
    setting(
        "require_endpoint",
        "TOKIO_DOCTOR_REQUIRE_ENDPOINT",
        BOOL,
        "true",
        |c, v| {
            c.require_endpoint = parse_bool(v)?;
            Some(())
        },
    ),
    setting(
        "allow_clients",
        "TOKIO_DOCTOR_ALLOW",
        ALLOW_FORM,
        "any",
        |c, v| {
            c.allow = if v.eq_ignore_ascii_case("any") {
                None
            } else {
                Some(AllowList::parse(v)?)
            };
            Some(())
        },
    ),
    setting(
        "snapshot_max_age",
        "TOKIO_DOCTOR_SNAPSHOT_MAX_AGE",
        "a duration such as 1s, or 0s for a snapshot per scrape",
        "1s",
        |c, v| {
            c.snapshot_max_age = parse_duration(v)?;
            Some(())
        },
    ),
    // The poll path, the monitors and the labels.
    setting(
        "blocking_poll_threshold",
        "TOKIO_DOCTOR_BLOCKING_POLL_THRESHOLD",
        DURATION,
        "10ms",
        |c, v| {
            c.blocking_poll_threshold = parse_duration(v)?;
            Some(())
        },
    ),
    setting(
        "label_cap",
        "TOKIO_DOCTOR_LABEL_CAP",
        "an integer from 1 to 100000",
        "1000",
        |c, v| {
            c.label_cap = v.parse().ok()?;
            Some(())
        },
    ),
    setting(
        "lag_probe_interval",
        "TOKIO_DOCTOR_LAG_PROBE_INTERVAL",
        DURATION,
        "10ms",
        |c, v| {
            c.lag_probe_interval = parse_duration(v)?;
            Some(())
        },
    ),
    setting(
        "sample_interval",
        "TOKIO_DOCTOR_SAMPLE_INTERVAL",
        DURATION,
        "1s",
        |c, v| {
            c.sample_interval = parse_duration(v)?;
            Some(())
        },
    ),
    setting(
        "watchdog_interval",
        "TOKIO_DOCTOR_WATCHDOG_INTERVAL",
        DURATION,
        "5ms",
        |c, v| {
            c.watchdog_interval = parse_duration(v)?;
            Some(())
        },
    ),
    setting(
        "use_global_recorder",
        "TOKIO_DOCTOR_USE_GLOBAL_RECORDER",
        BOOL,
        "false",
        |c, v| {
            c.use_global_recorder = parse_bool(v)?;
            Some(())
        },
    ),
    setting(
        "ignore_tokio_resource_spans",
        "TOKIO_DOCTOR_IGNORE_TOKIO_RESOURCE_SPANS",
        BOOL,
        "true",
        |c, v| {
            c.ignore_tokio_resource_spans = parse_bool(v)?;
            Some(())
        },
    ),
    setting(
        "span_level",
        "TOKIO_DOCTOR_SPAN_LEVEL",
        "`error`, `warn`, `info`, `debug` or `trace`",
        "info",
        |c, v| {
            c.span_level = v.parse().ok()?;
            Some(())
        },
    ),
    setting(
        "stack_capture",
        "TOKIO_DOCTOR_STACKS",
        BOOL,
        "true",
        |c, v| {
            c.stack_capture = parse_bool(v)?;
            Some(())
        },
    ),
    setting(
        "span_nodes",
        "TOKIO_DOCTOR_SPAN_NODES",
        BOOL,
        "true",
        |c, v| {
            c.span_nodes = parse_bool(v)?;
            Some(())
        },
    ),
    // Queues, connections and memory.
    setting(
        "queue_window",
        "TOKIO_DOCTOR_QUEUE_WINDOW",
        WINDOW,
        "10s",
        |c, v| {
            c.queue_window = parse_duration(v)?;
            Some(())
        },
    ),
    setting(
        "queue_depth_floor",
        "TOKIO_DOCTOR_QUEUE_DEPTH_FLOOR",
        "an integer such as 100",
        "100",
        |c, v| {
            c.queue_depth_floor = v.parse().ok()?;
            Some(())
        },
    ),
    setting(
        "queue_limit",
        "TOKIO_DOCTOR_QUEUE_LIMIT",
        "an integer greater than zero, or `none`",
        "none",
        |c, v| {
            c.queue_limit = if v.eq_ignore_ascii_case("none") {
                None
            } else {
                Some(v.parse().ok()?)
            };
            Some(())
        },
    ),
    setting(
        "churn_window",
        "TOKIO_DOCTOR_CHURN_WINDOW",
        "a duration of at least three sample intervals, such as 30s",
        "30s",
        |c, v| {
            c.churn_window = parse_duration(v)?;
            Some(())
        },
    ),
    setting(
        "materialization_threshold",
        "TOKIO_DOCTOR_MATERIALIZATION_THRESHOLD",
        "a number of bytes such as 67108864",
        "67108864",
        |c, v| {
            c.materialization_bytes = v.parse().ok()?;
            Some(())
        },
    ),
    // Held resources and deadlines.
    setting(
        "resource_span",
        "TOKIO_DOCTOR_RESOURCE_SPANS",
        "span names separated by commas, such as db.transaction",
        "none",
        |c, v| {
            c.resource_span_names = parse_names(v);
            Some(())
        },
    ),
    setting(
        "outbound_span",
        "TOKIO_DOCTOR_OUTBOUND_SPANS",
        "span names separated by commas, such as fetch_profile",
        "none",
        |c, v| {
            c.outbound_span_names = parse_names(v);
            Some(())
        },
    ),
    setting(
        "held_idle_threshold",
        "TOKIO_DOCTOR_HELD_IDLE_THRESHOLD",
        DURATION,
        "50ms",
        |c, v| {
            c.held_idle_threshold = parse_duration(v)?;
            Some(())
        },
    ),
    setting(
        "hang_limit",
        "TOKIO_DOCTOR_HANG_LIMIT",
        DURATION,
        "10s",
        |c, v| {
            c.hang_limit = parse_duration(v)?;
            Some(())
        },
    ),
    setting(
        "deadline_grace",
        "TOKIO_DOCTOR_DEADLINE_GRACE",
        DURATION,
        "50ms",
        |c, v| {
            c.deadline_grace = parse_duration(v)?;
            Some(())
        },
    ),
    // The concurrency shape.
    setting(
        "serial_chain_threshold",
        "TOKIO_DOCTOR_SERIAL_CHAIN_THRESHOLD",
        "an integer of at least 2",
        "8",
        |c, v| {
            c.shape.serial_chain = v.parse().ok()?;
            Some(())
        },
    ),
    setting(
        "serial_min_await",
        "TOKIO_DOCTOR_SERIAL_MIN_AWAIT",
        DURATION,
        "1ms",
        |c, v| {
            c.shape.serial_min_await = parse_duration(v)?;
            Some(())
        },
    ),
    setting(
        "fanout_threshold",
        "TOKIO_DOCTOR_FANOUT_THRESHOLD",
        "an integer of at least 2",
        "1000",
        |c, v| {
            c.shape.fanout_threshold = v.parse().ok()?;
            Some(())
        },
    ),
    setting(
        "concurrency_window",
        "TOKIO_DOCTOR_CONCURRENCY_WINDOW",
        WINDOW,
        "5s",
        |c, v| {
            c.shape.concurrency_window = parse_duration(v)?;
            Some(())
        },
    ),
    setting(
        "trivial_busy_threshold",
        "TOKIO_DOCTOR_TRIVIAL_BUSY_THRESHOLD",
        DURATION,
        "50us",
        |c, v| {
            c.shape.trivial_busy = parse_duration(v)?;
            Some(())
        },
    ),
    setting(
        "trivial_rate_threshold",
        "TOKIO_DOCTOR_TRIVIAL_RATE_THRESHOLD",
        "completions per second, such as 1000",
        "1000",
        |c, v| {
            c.shape.trivial_rate = v.parse().ok()?;
            Some(())
        },
    ),
    setting(
        "excess_tasks_threshold",
        "TOKIO_DOCTOR_EXCESS_TASKS_THRESHOLD",
        "an integer greater than zero",
        "10000",
        |c, v| {
            c.shape.excess_tasks = v.parse().ok()?;
            Some(())
        },
    ),
    setting(
        "task_window",
        "TOKIO_DOCTOR_TASK_WINDOW",
        WINDOW,
        "10s",
        |c, v| {
            c.shape.task_window = parse_duration(v)?;
            Some(())
        },
    ),
];

/// Builder methods that have no variable of their own, and why.
#[cfg(test)]
pub(crate) const NO_VARIABLE: &[(&str, &str)] = &[
    ("no_endpoint", "TOKIO_DOCTOR_LISTEN=off does the same"),
    (
        "build",
        "not a setting: validates the others and builds the doctor",
    ),
    (
        "with_env",
        "not a setting: lays the variables over the builder",
    ),
    (
        "from_env",
        "not a setting: a builder with the variables applied",
    ),
];

/// The `(variable, form, default)` rows of [`SETTINGS`], in order.
pub(crate) const fn env_vars<const N: usize>() -> [(&'static str, &'static str, &'static str); N] {
    let mut out = [("", "", ""); N];
    let mut i = 0;
    while i < N {
        let s = &SETTINGS[i];
        out[i] = (s.var, s.form, s.default);
        i += 1;
    }
    out
}

/// The setting a builder method changes.
pub(crate) fn by_setter(setter: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.setter == setter)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `pub fn` of the builder, read from its source.
    fn setters() -> Vec<String> {
        include_str!("../doctor/builder.rs")
            .lines()
            .filter_map(|l| l.trim().strip_prefix("pub fn "))
            .map(|l| l.split(['(', '<']).next().unwrap().to_string())
            .collect()
    }

    #[test]
    fn every_setter_has_a_variable_or_a_reason_why_not() {
        let setters = setters();
        assert!(setters.len() > 30, "{setters:?}");
        for setter in &setters {
            let has_var = by_setter(setter).is_some();
            let has_reason = NO_VARIABLE.iter().any(|(s, _)| s == setter);
            assert!(
                has_var ^ has_reason,
                "`{setter}`: give it a variable in SETTINGS or a reason in NO_VARIABLE (not both)"
            );
        }
        for s in SETTINGS {
            assert!(
                setters.iter().any(|x| x == s.setter),
                "{} is no setter",
                s.setter
            );
        }
    }

    #[test]
    fn every_variable_parses_its_own_default() {
        for s in SETTINGS {
            let mut c = Config::default();
            assert!((s.apply)(&mut c, s.default).is_some(), "{}", s.var);
            assert!(c.validate().is_ok(), "{}={}", s.var, s.default);
        }
    }

    #[test]
    fn the_environment_composes_with_settings_made_in_code() {
        let mut c = Config {
            blocking_poll_threshold: std::time::Duration::from_millis(20),
            label_cap: 50,
            ..Config::default()
        };
        super::super::apply_env(&mut c, |v| {
            (v == "TOKIO_DOCTOR_LABEL_CAP").then(|| "70".to_string())
        })
        .unwrap();
        assert_eq!(c.label_cap, 70, "the environment overrides code");
        assert_eq!(
            c.blocking_poll_threshold,
            std::time::Duration::from_millis(20),
            "what the environment does not name keeps the code's value"
        );
    }
}
