//! [`DoctorBuilder`] settings of the held-resource and deadline detectors
//! (scenarios 11 and 12).

use std::time::Duration;

use crate::DoctorBuilder;

impl DoctorBuilder {
    /// Treats every span named `name` as a held resource scope, from its
    /// creation to its close (for example `"db.transaction"` from a database
    /// library), so code that already emits such spans needs no change. A
    /// span with a `doctor.resource` field is one too, whatever its name.
    ///
    /// # Examples
    /// ```
    /// let doctor = tokio_doctor::Doctor::builder()
    ///     .no_endpoint()
    ///     .resource_span("db.transaction")
    ///     .build()?;
    /// # Ok::<(), tokio_doctor::Error>(())
    /// ```
    pub fn resource_span(mut self, name: impl Into<String>) -> Self {
        self.config.resource_span_names.push(name.into());
        self
    }

    /// Treats every span named `name` as an outbound call, beside the spans
    /// OpenTelemetry's fields mark as clients (`otel.kind = "client"`,
    /// `http.request.method`, `url.full`, `server.address`, `db.system`,
    /// `rpc.system`, `peer.service`).
    ///
    /// # Examples
    /// ```
    /// let doctor = tokio_doctor::Doctor::builder()
    ///     .no_endpoint()
    ///     .outbound_span("fetch_profile")
    ///     .build()?;
    /// # Ok::<(), tokio_doctor::Error>(())
    /// ```
    pub fn outbound_span(mut self, name: impl Into<String>) -> Self {
        self.config.outbound_span_names.push(name.into());
        self
    }

    /// Idle time across an await at or above which a hold is reported
    /// (`held_across_await`), and duration at or above which a span inside a
    /// hold is slow work (`slow_work_while_held`). Default
    /// [`DEFAULT_HELD_IDLE_THRESHOLD`](crate::DEFAULT_HELD_IDLE_THRESHOLD)
    /// (50 ms).
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// let doctor = tokio_doctor::Doctor::builder()
    ///     .no_endpoint()
    ///     .held_idle_threshold(Duration::from_millis(20))
    ///     .build()?;
    /// # Ok::<(), tokio_doctor::Error>(())
    /// ```
    pub fn held_idle_threshold(mut self, threshold: Duration) -> Self {
        self.config.held_idle_threshold = threshold;
        self
    }

    /// How long an outbound call may stay open before it counts as hung
    /// (`tokio_doctor_hung_calls`, and a critical `missing_deadline` while
    /// it hangs). Default [`DEFAULT_HANG_LIMIT`](crate::DEFAULT_HANG_LIMIT)
    /// (10 s).
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// let doctor = tokio_doctor::Doctor::builder()
    ///     .no_endpoint()
    ///     .hang_limit(Duration::from_secs(5))
    ///     .build()?;
    /// # Ok::<(), tokio_doctor::Error>(())
    /// ```
    pub fn hang_limit(mut self, limit: Duration) -> Self {
        self.config.hang_limit = limit;
        self
    }

    /// How far past its deadline a span may close before it is a
    /// `deadline_overrun`. Default
    /// [`DEFAULT_DEADLINE_GRACE`](crate::DEFAULT_DEADLINE_GRACE) (50 ms).
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// let doctor = tokio_doctor::Doctor::builder()
    ///     .no_endpoint()
    ///     .deadline_grace(Duration::from_millis(20))
    ///     .build()?;
    /// # Ok::<(), tokio_doctor::Error>(())
    /// ```
    pub fn deadline_grace(mut self, grace: Duration) -> Self {
        self.config.deadline_grace = grace;
        self
    }

    /// Whether every span gets a node: the per-span state (a few hundred
    /// nanoseconds per span created and closed, never per poll) that the
    /// concurrency-shape, held-resource and deadline detectors read. Default
    /// `true`. Turn it off for a service that creates spans by the million
    /// per second and can do without `serial_awaits`, `unbounded_fanout`,
    /// the concurrency advice, `trivial_async` of instrumented futures,
    /// `slow_work_while_held` inside resource spans and the deadline
    /// findings; tokio's task spans and `held()` scopes keep theirs.
    ///
    /// # Examples
    /// ```
    /// let doctor = tokio_doctor::Doctor::builder()
    ///     .no_endpoint()
    ///     .span_nodes(false)
    ///     .build()?;
    /// # Ok::<(), tokio_doctor::Error>(())
    /// ```
    pub fn span_nodes(mut self, on: bool) -> Self {
        self.config.span_nodes = on;
        self
    }
}
