//! The configured durations the hot path compares against, in nanoseconds.
//!
//! A span close, a first poll or a poll's exit compares a clock delta (in
//! nanoseconds) with a threshold. Converting the configured `Duration` there
//! (`as_nanos()` is a `u128` multiply and add) costs on every event for a
//! value that never changes, so it is done once, by [`Nanos::of`], when the
//! doctor's state is made from its finished configuration
//! (`Shared::new`). The state owns that configuration and never changes it,
//! so the nanoseconds cannot drift from the `Duration`s, whatever the
//! builder or the environment set before. Detectors, off the hot path, keep
//! reading the `Duration`s (in seconds, for their evidence).

use std::time::Duration;

use super::Config;

/// The hot path's thresholds and limits, in nanoseconds; each field is the
/// `Config` (or `ShapeConfig`) duration of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Nanos {
    /// A poll at least this long blocked its worker.
    pub(crate) blocking_poll_threshold: u64,
    /// A hold idle at least this long (and work inside a hold at least this
    /// long) counts.
    pub(crate) held_idle_threshold: u64,
    /// An outbound call open this long without a deadline hangs.
    pub(crate) hang_limit: u64,
    /// How far past its deadline a span may close before it overran.
    pub(crate) deadline_grace: u64,
    /// The shortest sibling call that counts in a serial chain.
    pub(crate) serial_min_await: u64,
    /// The most busy time of a first poll that completes trivially.
    pub(crate) trivial_busy: u64,
}

impl Nanos {
    /// The one place the values are derived, so they always match `config`.
    pub(crate) fn of(config: &Config) -> Nanos {
        Nanos {
            blocking_poll_threshold: nanos(config.blocking_poll_threshold),
            held_idle_threshold: nanos(config.held_idle_threshold),
            hang_limit: nanos(config.hang_limit),
            deadline_grace: nanos(config.deadline_grace),
            serial_min_await: nanos(config.shape.serial_min_await),
            trivial_busy: nanos(config.shape.trivial_busy),
        }
    }
}

/// A duration in nanoseconds, saturating: a limit past `u64::MAX`
/// nanoseconds (584 years) reads as never reached rather than wrapping
/// to a short one.
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::apply_env;

    /// Every field, from a configuration whose durations all differ from
    /// their defaults and from each other, so a field read from the wrong
    /// duration shows.
    #[test]
    fn each_value_is_its_own_duration_in_nanoseconds() {
        let mut c = Config::default();
        apply_env(&mut c, |var| {
            let value = match var {
                "TOKIO_DOCTOR_BLOCKING_POLL_THRESHOLD" => "25ms",
                "TOKIO_DOCTOR_HELD_IDLE_THRESHOLD" => "70ms",
                "TOKIO_DOCTOR_HANG_LIMIT" => "3s",
                "TOKIO_DOCTOR_DEADLINE_GRACE" => "15ms",
                "TOKIO_DOCTOR_SERIAL_MIN_AWAIT" => "2ms",
                "TOKIO_DOCTOR_TRIVIAL_BUSY_THRESHOLD" => "80us",
                _ => return None,
            };
            Some(value.to_string())
        })
        .unwrap();
        let ms = 1_000_000;
        assert_eq!(
            Nanos::of(&c),
            Nanos {
                blocking_poll_threshold: 25 * ms,
                held_idle_threshold: 70 * ms,
                hang_limit: 3_000 * ms,
                deadline_grace: 15 * ms,
                serial_min_await: 2 * ms,
                trivial_busy: 80_000,
            }
        );
    }

    #[test]
    fn the_defaults_convert_exactly() {
        let c = Config::default();
        let n = Nanos::of(&c);
        let exact = |d: Duration| d.as_nanos();
        assert_eq!(
            u128::from(n.blocking_poll_threshold),
            exact(c.blocking_poll_threshold)
        );
        assert_eq!(
            u128::from(n.held_idle_threshold),
            exact(c.held_idle_threshold)
        );
        assert_eq!(u128::from(n.hang_limit), exact(c.hang_limit));
        assert_eq!(u128::from(n.deadline_grace), exact(c.deadline_grace));
        assert_eq!(
            u128::from(n.serial_min_await),
            exact(c.shape.serial_min_await)
        );
        assert_eq!(u128::from(n.trivial_busy), exact(c.shape.trivial_busy));
    }

    #[test]
    fn a_limit_past_u64_nanoseconds_is_never_reached() {
        assert_eq!(nanos(Duration::MAX), u64::MAX);
        assert_eq!(nanos(Duration::from_nanos(u64::MAX)), u64::MAX);
    }

    /// The state derives its values from the configuration it keeps, so
    /// what the builder set is what the hot path reads.
    #[test]
    fn the_state_reads_the_values_of_its_own_configuration() {
        let builder = crate::Doctor::builder()
            .no_endpoint()
            .hang_limit(Duration::from_secs(7))
            .deadline_grace(Duration::from_millis(9))
            .trivial_busy_threshold(Duration::from_micros(30));
        let shared = crate::state::Shared::for_doctor(builder.config);
        assert_eq!(shared.ns, Nanos::of(&shared.config));
        assert_eq!(shared.ns.hang_limit, 7_000_000_000);
        assert_eq!(shared.ns.deadline_grace, 9_000_000);
        assert_eq!(shared.ns.trivial_busy, 30_000);
    }
}
