//! [`Telemetry`](super::Telemetry) without the `otel` feature: the same
//! calls, doing nothing.

use super::{PartitionGauges, Telemetry};
use crate::kind::Kind;
use crate::step::{Action, Step};

pub(super) struct SpanInner;

pub(super) fn has_providers(_: &Telemetry) -> bool {
    false
}

pub(super) fn run(_: &Telemetry, _: &'static str, _: usize) -> SpanInner {
    SpanInner
}

pub(super) fn database(_: &Telemetry, _: &str, _: Kind) -> SpanInner {
    SpanInner
}

pub(super) fn step(_: &Telemetry, _: &str, _: Kind, _: &Step) -> SpanInner {
    SpanInner
}

pub(super) fn lock_wait(_: &Telemetry, _: &str, _: Kind) -> SpanInner {
    SpanInner
}

#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(super) fn partition(_: &Telemetry, _: &str, _: &str, _: &str, _: &str) -> SpanInner {
    SpanInner
}

pub(super) fn pending(_: &Telemetry, _: &str, _: Kind, _: usize) {}

#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(super) fn partitions(_: &Telemetry, _: &PartitionGauges<'_>) {}

impl SpanInner {
    pub(super) fn wrap<F: std::future::Future>(&self, work: F) -> F {
        work
    }

    pub(super) fn attribute(&self, _: &'static str, _: String) {}

    pub(super) fn end(self, _: Result<Option<Action>, String>) {}
}
