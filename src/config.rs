//! Settings, their defaults, and the `TOKIO_DOCTOR_*` environment variables.

use std::net::SocketAddr;
use std::time::Duration;

use crate::Error;

/// Default address of the `/metrics` and `/doctor` endpoint: loopback only, so
/// nothing is exposed beyond the host unless the user asks for it. 9464 is the
/// port OpenTelemetry's Prometheus exporter uses, which scrapers often allow.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9464";

/// Default threshold above which a poll counts as blocking the executor.
///
/// tokio's guidance is 10–100 µs between `.await`s; 10 ms is two orders of
/// magnitude above that, so a poll this long is certainly a bug and not
/// noise from a busy machine, and it is the shortest delay an operator
/// notices in a request's latency.
pub const DEFAULT_BLOCKING_POLL_THRESHOLD: Duration = Duration::from_millis(10);

/// Default cap on the label sets of any one metric (distinct call sites).
/// Past the cap, new call sites are folded into `span="other"`. 1,000 keeps
/// a scrape under about a megabyte while covering any service we know of.
pub const DEFAULT_LABEL_CAP: usize = 1_000;

/// Default interval between two event-loop lag probes. 10 ms gives 100
/// samples a second: enough for a p99 per scrape, cheap enough to ignore.
pub const DEFAULT_LAG_PROBE_INTERVAL: Duration = Duration::from_millis(10);

/// Default interval of the sampler that reads runtime metrics. Alerts look
/// at minutes of data; one sample a second keeps them responsive (tokio-metrics'
/// own default is 30 s, too slow for a "stalled now" alert).
pub const DEFAULT_SAMPLE_INTERVAL: Duration = Duration::from_secs(1);

/// Default interval at which the watchdog thread looks for polls that are
/// still running. Half the default threshold, so a stall is seen within
/// 1.5× the threshold.
pub const DEFAULT_WATCHDOG_INTERVAL: Duration = Duration::from_millis(5);

/// Default window over which a queue's depth must keep rising to count as
/// growth. Ten seconds at one sample a second gives ten points: enough for a
/// least-squares slope, short enough to warn long before memory runs out.
pub const DEFAULT_QUEUE_WINDOW: Duration = Duration::from_secs(10);

/// Default depth below which a growing queue is not reported: a queue of a
/// few hundred items is a burst, not a leak.
pub const DEFAULT_QUEUE_DEPTH_FLOOR: u64 = 100;

/// Default window over which new connections are compared with requests.
/// Thirty seconds holds the spec's 20 requests even at under one a second.
pub const DEFAULT_CHURN_WINDOW: Duration = Duration::from_secs(30);

/// Default peak of live heap bytes in one span instance that counts as
/// materializing a result (with the `alloc` feature). The seed's export
/// held gigabytes; 64 MiB is well above what any request should hold at
/// once and far below what takes a service down.
pub const DEFAULT_MATERIALIZATION_BYTES: u64 = 64 << 20;

/// A hold (see [`crate::held`]) idle this long across an await is a
/// `held_across_await` finding, and a span inside a hold that takes this
/// long is `slow_work_while_held`. 50 ms is fifty LAN database round trips:
/// no transaction's own statements should leave it idle that long, while
/// the scenario's external call (300 ms) is far over.
pub const DEFAULT_HELD_IDLE_THRESHOLD: Duration = Duration::from_millis(50);
/// An outbound call open this long is *hung*. Scenario 12's backend hangs
/// for 30 s; 10 s is past any interactive timeout, so a call still open
/// then has no working deadline.
pub const DEFAULT_HANG_LIMIT: Duration = Duration::from_secs(10);
/// How far past its deadline a span may close before it is an overrun.
/// tokio's timer fires on millisecond ticks and the cancelled future is
/// dropped at its next poll; 50 ms covers that on a loaded runtime.
pub const DEFAULT_DEADLINE_GRACE: Duration = Duration::from_millis(50);

/// Default most verbose span level the doctor enables: INFO, the level of
/// `#[instrument]` and `info_span!`, which services use for the spans they
/// mean to be seen. DEBUG and TRACE spans (tower-http's per-request span,
/// libraries' internals) stay off unless another layer wants them or
/// `span_level` widens this; the doctor's own helper spans and tokio's task
/// spans (TRACE) are enabled whatever the level.
pub(crate) const DEFAULT_SPAN_LEVEL: tracing::Level = tracing::Level::INFO;

/// Everything the doctor can be told. Built by [`crate::DoctorBuilder`] or
/// [`crate::Doctor::from_env`].
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
    /// Client addresses the endpoint answers; `None`: every client.
    pub(crate) allow: Option<crate::export::allow::AllowList>,
    /// The concurrency-shape detectors' settings.
    pub(crate) shape: crate::shape_settings::ShapeConfig,
    /// The most verbose level of span the doctor enables (beside its own
    /// helpers' spans and tokio's task spans); see `DoctorBuilder::span_level`.
    pub(crate) span_level: tracing::Level,
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
            allow: None,
            shape: Default::default(),
            span_level: DEFAULT_SPAN_LEVEL,
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

/// The environment variables [`crate::Doctor::from_env`] reads, with the form
/// each accepts. Kept as data so the README table and the parser cannot drift.
pub const ENV_VARS: &[(&str, &str, &str)] = &[
    (
        "TOKIO_DOCTOR_LISTEN",
        "an address such as 127.0.0.1:9464, or `off`",
        DEFAULT_LISTEN,
    ),
    ("TOKIO_DOCTOR_REQUIRE_ENDPOINT", "`true` or `false`", "true"),
    ("TOKIO_DOCTOR_ALLOW", crate::export::allow::FORM, "any"),
    (
        "TOKIO_DOCTOR_BLOCKING_POLL_THRESHOLD",
        "a duration such as 10ms, 250us or 1s",
        "10ms",
    ),
    (
        "TOKIO_DOCTOR_LABEL_CAP",
        "an integer from 1 to 100000",
        "1000",
    ),
    (
        "TOKIO_DOCTOR_LAG_PROBE_INTERVAL",
        "a duration such as 10ms",
        "10ms",
    ),
    (
        "TOKIO_DOCTOR_SAMPLE_INTERVAL",
        "a duration such as 1s",
        "1s",
    ),
    (
        "TOKIO_DOCTOR_WATCHDOG_INTERVAL",
        "a duration such as 5ms",
        "5ms",
    ),
    (
        "TOKIO_DOCTOR_QUEUE_WINDOW",
        "a duration of at least three sample intervals, such as 10s",
        "10s",
    ),
    (
        "TOKIO_DOCTOR_QUEUE_DEPTH_FLOOR",
        "an integer such as 100",
        "100",
    ),
    (
        "TOKIO_DOCTOR_QUEUE_LIMIT",
        "an integer greater than zero, or `none`",
        "none",
    ),
    (
        "TOKIO_DOCTOR_CHURN_WINDOW",
        "a duration of at least three sample intervals, such as 30s",
        "30s",
    ),
    (
        "TOKIO_DOCTOR_HELD_IDLE_THRESHOLD",
        "a duration such as 50ms",
        "50ms",
    ),
    ("TOKIO_DOCTOR_HANG_LIMIT", "a duration such as 10s", "10s"),
    (
        "TOKIO_DOCTOR_DEADLINE_GRACE",
        "a duration such as 50ms",
        "50ms",
    ),
    ("TOKIO_DOCTOR_SPAN_NODES", "`true` or `false`", "true"),
    (
        "TOKIO_DOCTOR_RESOURCE_SPANS",
        "span names separated by commas, such as db.transaction",
        "none",
    ),
    (
        "TOKIO_DOCTOR_OUTBOUND_SPANS",
        "span names separated by commas, such as fetch_profile",
        "none",
    ),
    (
        "TOKIO_DOCTOR_SPAN_LEVEL",
        "`error`, `warn`, `info`, `debug` or `trace`",
        "info",
    ),
];

/// Applies every `TOKIO_DOCTOR_*` variable found by `lookup` over `config`.
pub(crate) fn apply_env(
    config: &mut Config,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<(), Error> {
    for (var, form, _) in ENV_VARS {
        let Some(raw) = lookup(var) else { continue };
        let value = raw.trim();
        let bad = || invalid(var, &format!("got {raw:?}, expected {form}"));
        match *var {
            "TOKIO_DOCTOR_LISTEN" => {
                config.listen = if value.eq_ignore_ascii_case("off") {
                    None
                } else {
                    Some(value.parse().map_err(|_| bad())?)
                }
            }
            "TOKIO_DOCTOR_REQUIRE_ENDPOINT" => {
                config.require_endpoint = parse_bool(value).ok_or_else(bad)?
            }
            "TOKIO_DOCTOR_ALLOW" => {
                config.allow = if value.eq_ignore_ascii_case("any") {
                    None
                } else {
                    Some(crate::export::allow::AllowList::parse(value).ok_or_else(bad)?)
                }
            }
            "TOKIO_DOCTOR_BLOCKING_POLL_THRESHOLD" => {
                config.blocking_poll_threshold = parse_duration(value).ok_or_else(bad)?
            }
            "TOKIO_DOCTOR_LABEL_CAP" => config.label_cap = value.parse().map_err(|_| bad())?,
            "TOKIO_DOCTOR_LAG_PROBE_INTERVAL" => {
                config.lag_probe_interval = parse_duration(value).ok_or_else(bad)?
            }
            "TOKIO_DOCTOR_SAMPLE_INTERVAL" => {
                config.sample_interval = parse_duration(value).ok_or_else(bad)?
            }
            "TOKIO_DOCTOR_WATCHDOG_INTERVAL" => {
                config.watchdog_interval = parse_duration(value).ok_or_else(bad)?
            }
            "TOKIO_DOCTOR_HELD_IDLE_THRESHOLD" => {
                config.held_idle_threshold = parse_duration(value).ok_or_else(bad)?
            }
            "TOKIO_DOCTOR_HANG_LIMIT" => {
                config.hang_limit = parse_duration(value).ok_or_else(bad)?
            }
            "TOKIO_DOCTOR_DEADLINE_GRACE" => {
                config.deadline_grace = parse_duration(value).ok_or_else(bad)?
            }
            "TOKIO_DOCTOR_SPAN_NODES" => config.span_nodes = parse_bool(value).ok_or_else(bad)?,
            "TOKIO_DOCTOR_RESOURCE_SPANS" => config.resource_span_names = parse_names(value),
            "TOKIO_DOCTOR_OUTBOUND_SPANS" => config.outbound_span_names = parse_names(value),
            "TOKIO_DOCTOR_QUEUE_WINDOW" => {
                config.queue_window = parse_duration(value).ok_or_else(bad)?
            }
            "TOKIO_DOCTOR_QUEUE_DEPTH_FLOOR" => {
                config.queue_depth_floor = value.parse().map_err(|_| bad())?
            }
            "TOKIO_DOCTOR_QUEUE_LIMIT" => {
                config.queue_limit = if value.eq_ignore_ascii_case("none") {
                    None
                } else {
                    Some(value.parse().map_err(|_| bad())?)
                }
            }
            "TOKIO_DOCTOR_CHURN_WINDOW" => {
                config.churn_window = parse_duration(value).ok_or_else(bad)?
            }
            "TOKIO_DOCTOR_SPAN_LEVEL" => config.span_level = value.parse().map_err(|_| bad())?,
            _ => unreachable!("every variable in ENV_VARS has a parser"),
        }
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
    let var_of = |setting: &str| format!("TOKIO_DOCTOR_{}", setting.to_ascii_uppercase());
    // A window too short for the sample interval may come from either.
    let culprits = [var_of(setting), var_of("sample_interval")];
    for var in culprits {
        let (Some(raw), Some((_, form, _))) =
            (lookup(&var), ENV_VARS.iter().find(|(v, _, _)| *v == var))
        else {
            continue;
        };
        return invalid(
            &var,
            &format!("got {raw:?}, expected {form} (`{setting}` {reason})"),
        );
    }
    e
}

/// `a, b,c` as names; `none` or nothing as no names.
fn parse_names(s: &str) -> Vec<String> {
    if s.eq_ignore_ascii_case("none") {
        return Vec::new();
    }
    s.split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .collect()
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// Parses `10ms`, `250us`, `1.5s`, `2m`, `100ns`. A bare number is refused:
/// a threshold without a unit is a bug waiting to happen.
pub(crate) fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (num, unit) = s.split_at(split);
    let num: f64 = num.parse().ok()?;
    let scale = match unit.trim() {
        "ns" => 1e-9,
        "us" | "µs" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "m" | "min" => 60.0,
        _ => return None,
    };
    let secs = num * scale;
    if !secs.is_finite() || !(0.0..=1e9).contains(&secs) {
        return None;
    }
    Some(Duration::from_secs_f64(secs))
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
