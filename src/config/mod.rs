//! Settings, their defaults, and the `TOKIO_DOCTOR_*` environment variables.

use std::net::SocketAddr;
use std::time::Duration;

use crate::util::parse_duration;
use crate::Error;

pub(crate) mod allow;
pub mod defaults;
pub(crate) mod nanos;
pub(crate) mod settings;
pub(crate) mod shape;

use defaults::*;

/// Everything the doctor can be told. Built by [`crate::DoctorBuilder`] or
/// [`crate::Doctor::from_env`]. The hot path reads the durations it
/// compares with in nanoseconds, from [`nanos::Nanos`], which the doctor's
/// state derives from the finished config (so setting a `Duration` here is
/// all a setter does).
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) listen: Option<SocketAddr>,
    pub(crate) require_endpoint: bool,
    pub(crate) blocking_poll_threshold: Duration,
    pub(crate) label_cap: usize,
    pub(crate) lag_probe_interval: Duration,
    pub(crate) sample_interval: Duration,
    pub(crate) watchdog_interval: Duration,
    pub(crate) use_global_recorder: bool,
    pub(crate) ignore_tokio_resource_spans: bool,
    pub(crate) queue_window: Duration,
    pub(crate) queue_depth_floor: u64,
    pub(crate) queue_limit: Option<u64>,
    pub(crate) churn_window: Duration,
    pub(crate) materialization_bytes: u64,
    pub(crate) outbound_span_names: Vec<String>,
    pub(crate) resource_span_names: Vec<String>,
    pub(crate) held_idle_threshold: Duration,
    pub(crate) hang_limit: Duration,
    pub(crate) deadline_grace: Duration,
    /// Whether every span gets a node (see `layer::span_node`); task spans
    /// and held scopes always do.
    pub(crate) span_nodes: bool,
    /// How old a snapshot the endpoint may serve (concurrent scrapes
    /// within it share one).
    pub(crate) snapshot_max_age: Duration,
    /// Client addresses the endpoint answers; `None`: every client.
    pub(crate) allow: Option<crate::config::allow::AllowList>,
    /// The most verbose level of span the doctor enables (beside its own
    /// helpers' spans and tokio's task spans); see `DoctorBuilder::span_level`.
    pub(crate) span_level: tracing::Level,
    /// The concurrency-shape detectors' settings.
    pub(crate) shape: crate::config::shape::ShapeConfig,
    /// Whether the watchdog captures a stalled worker's stack (Linux only).
    pub(crate) stack_capture: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: Some(DEFAULT_LISTEN.parse().expect("valid default address")),
            require_endpoint: true,
            blocking_poll_threshold: DEFAULT_BLOCKING_POLL_THRESHOLD,
            label_cap: DEFAULT_LABEL_CAP,
            lag_probe_interval: DEFAULT_LAG_PROBE_INTERVAL,
            sample_interval: DEFAULT_SAMPLE_INTERVAL,
            watchdog_interval: DEFAULT_WATCHDOG_INTERVAL,
            use_global_recorder: false,
            ignore_tokio_resource_spans: true,
            queue_window: DEFAULT_QUEUE_WINDOW,
            queue_depth_floor: DEFAULT_QUEUE_DEPTH_FLOOR,
            queue_limit: None,
            churn_window: DEFAULT_CHURN_WINDOW,
            materialization_bytes: DEFAULT_MATERIALIZATION_BYTES,
            outbound_span_names: Vec::new(),
            resource_span_names: Vec::new(),
            held_idle_threshold: DEFAULT_HELD_IDLE_THRESHOLD,
            hang_limit: DEFAULT_HANG_LIMIT,
            deadline_grace: DEFAULT_DEADLINE_GRACE,
            span_nodes: true,
            snapshot_max_age: DEFAULT_SNAPSHOT_MAX_AGE,
            allow: None,
            span_level: DEFAULT_SPAN_LEVEL,
            shape: Default::default(),
            stack_capture: cfg!(all(
                target_os = "linux",
                any(target_arch = "x86_64", target_arch = "aarch64")
            )),
        }
    }
}

impl Config {
    /// Rejects settings that would make the doctor useless or harmful.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        fn positive(setting: &str, d: Duration) -> Result<(), Error> {
            if d.is_zero() {
                return Err(invalid(
                    setting,
                    "must be greater than zero (for example 10ms)",
                ));
            }
            Ok(())
        }
        positive("blocking_poll_threshold", self.blocking_poll_threshold)?;
        positive("lag_probe_interval", self.lag_probe_interval)?;
        positive("sample_interval", self.sample_interval)?;
        positive("watchdog_interval", self.watchdog_interval)?;
        positive("held_idle_threshold", self.held_idle_threshold)?;
        positive("hang_limit", self.hang_limit)?;
        for (setting, window) in [
            ("queue_window", self.queue_window),
            ("churn_window", self.churn_window),
        ] {
            if window < self.sample_interval * 3 {
                return Err(invalid(
                    setting,
                    "must be at least three sample intervals (the default sample interval is 1s)",
                ));
            }
        }
        if self.queue_limit == Some(0) {
            return Err(invalid("queue_limit", "must be greater than zero"));
        }
        self.shape.validate(self.sample_interval)?;
        if self.label_cap == 0 || self.label_cap > 100_000 {
            return Err(invalid("label_cap", "must be between 1 and 100000"));
        }
        Ok(())
    }
}

pub(crate) fn invalid(setting: &str, reason: &str) -> Error {
    Error::InvalidConfig {
        setting: setting.to_string(),
        reason: reason.to_string(),
    }
}

/// The environment variables [`DoctorBuilder::with_env`](crate::DoctorBuilder::with_env)
/// reads, as `(variable, accepted form, default)`: one per builder setting
/// (made from the settings table, so the parser, this list and the
/// documentation cannot drift).
///
/// # Examples
/// ```
/// let vars: Vec<&str> = tokio_doctor::ENV_VARS.iter().map(|(v, _, _)| *v).collect();
/// assert!(vars.contains(&"TOKIO_DOCTOR_BLOCKING_POLL_THRESHOLD"));
/// ```
pub const ENV_VARS: &[(&str, &str, &str)] = &settings::env_vars::<{ settings::SETTINGS.len() }>();

/// Applies every `TOKIO_DOCTOR_*` variable found by `lookup` over `config`,
/// then validates the result (an error names the variable when one is to
/// blame).
pub(crate) fn apply_env(
    config: &mut Config,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<(), Error> {
    for s in settings::SETTINGS {
        let Some(raw) = lookup(s.var) else { continue };
        (s.apply)(config, raw.trim())
            .ok_or_else(|| invalid(s.var, &format!("got {raw:?}, expected {}", s.form)))?;
    }
    config.validate().map_err(|e| name_the_variable(e, &lookup))
}

/// A value that parses but is out of range fails `validate`, which names
/// the setting (`label_cap`); from the environment, name the variable the
/// user set and the form it accepts instead.
fn name_the_variable(e: Error, lookup: &impl Fn(&str) -> Option<String>) -> Error {
    let Error::InvalidConfig { setting, reason } = &e else {
        return e;
    };
    // A window too short for the sample interval may come from either.
    for culprit in [setting.as_str(), "sample_interval"] {
        let Some(s) = settings::by_setter(culprit) else {
            continue;
        };
        let Some(raw) = lookup(s.var) else { continue };
        return invalid(
            s.var,
            &format!("got {raw:?}, expected {} (`{setting}` {reason})", s.form),
        );
    }
    e
}

/// `a, b,c` as names; `none` or nothing as no names.
pub(crate) fn parse_names(s: &str) -> Vec<String> {
    if s.eq_ignore_ascii_case("none") {
        return Vec::new();
    }
    s.split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .collect()
}

pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_need_a_unit() {
        assert_eq!(parse_duration("10ms"), Some(Duration::from_millis(10)));
        assert_eq!(parse_duration("250us"), Some(Duration::from_micros(250)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("ms"), None);
        assert_eq!(parse_duration("-1s"), None);
        assert_eq!(parse_duration("1e400s"), None);
    }

    #[test]
    fn a_bad_variable_is_named_in_the_error() {
        let mut c = Config::default();
        let err = apply_env(&mut c, |v| {
            (v == "TOKIO_DOCTOR_BLOCKING_POLL_THRESHOLD").then(|| "ten".to_string())
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("TOKIO_DOCTOR_BLOCKING_POLL_THRESHOLD"),
            "{err}"
        );
        assert!(err.contains("10ms"), "{err}");
    }

    #[test]
    fn listen_off_turns_the_endpoint_off() {
        let mut c = Config::default();
        apply_env(&mut c, |v| {
            (v == "TOKIO_DOCTOR_LISTEN").then(|| "off".into())
        })
        .unwrap();
        assert!(c.listen.is_none());
        let err = apply_env(&mut c, |v| {
            (v == "TOKIO_DOCTOR_LABEL_CAP").then(|| "0".into())
        });
        assert!(err.unwrap_err().to_string().contains("label_cap"));
    }
}
