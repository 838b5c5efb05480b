//! Monitors: the parts of the doctor that watch the runtime rather than
//! spans. All run off the hot path.

pub(crate) mod lag;
pub(crate) mod sampler;
pub(crate) mod watchdog;
