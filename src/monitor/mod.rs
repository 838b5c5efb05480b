//! Monitors: the parts of the doctor that watch the runtime rather than
//! spans. All run off the hot path.

pub(crate) mod lag;
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
pub(crate) mod ping;
pub(crate) mod sampler;
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
pub(crate) mod stack;
pub(crate) mod watchdog;
