//! OpenTelemetry export, configured the standard way: nothing is exported
//! unless `OTEL_EXPORTER_OTLP_ENDPOINT` (or a per-signal
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` / `…_METRICS_ENDPOINT`) is set;
//! `OTEL_EXPORTER_OTLP_PROTOCOL` picks `grpc` or `http/protobuf` (the
//! default); `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` name the
//! service (`strata` when neither does); `OTEL_SDK_DISABLED=true` turns it
//! all off. The providers are handed to the library, never installed
//! globally. A collector that cannot be reached never fails a run: what
//! could not be sent is lost, and the run's exit code is its own.

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;
use strata::Error;
use strata::telemetry::Telemetry;

/// The providers this process exports through.
pub(crate) struct Export {
    traces: Option<SdkTracerProvider>,
    metrics: Option<SdkMeterProvider>,
}

fn set(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty())
}

/// The providers the environment asks for, or `None` when it asks for
/// none. Builds the exporters, so it runs where a tokio runtime has been
/// entered (the gRPC client spawns its connection task there); an unknown
/// protocol or an endpoint that is not a URL is a usage error naming the
/// variable, before anything runs.
pub(crate) fn from_env() -> Result<Option<Export>, Error> {
    if std::env::var("OTEL_SDK_DISABLED").is_ok_and(|v| v.eq_ignore_ascii_case("true")) {
        return Ok(None);
    }
    let any = set("OTEL_EXPORTER_OTLP_ENDPOINT");
    let traces = any || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
    let metrics = any || set("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT");
    if !traces && !metrics {
        return Ok(None);
    }
    for variable in [
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
    ] {
        match std::env::var(variable).as_deref() {
            Err(_) | Ok("" | "grpc" | "http/protobuf") => {}
            Ok(other) => {
                return Err(Error::Usage(format!(
                    "{variable}={other}: expected grpc or http/protobuf"
                )));
            }
        }
    }
    let resource = resource();
    let failed = |what: &str, e: &dyn std::fmt::Display| {
        Error::Usage(format!(
            "OpenTelemetry {what} exporter (OTEL_EXPORTER_OTLP_* variables): {}",
            strata::secret::scrub_registered(&e.to_string())
        ))
    };
    let traces = match traces {
        false => None,
        true => {
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .build()
                .map_err(|e| failed("trace", &e))?;
            Some(
                SdkTracerProvider::builder()
                    .with_batch_exporter(exporter)
                    .with_resource(resource.clone())
                    .build(),
            )
        }
    };
    let metrics = match metrics {
        false => None,
        true => {
            let exporter = opentelemetry_otlp::MetricExporter::builder()
                .build()
                .map_err(|e| failed("metric", &e))?;
            Some(
                SdkMeterProvider::builder()
                    .with_periodic_exporter(exporter)
                    .with_resource(resource)
                    .build(),
            )
        }
    };
    Ok(Some(Export { traces, metrics }))
}

/// The environment's resource, named `strata` when it names no service.
fn resource() -> Resource {
    let named = set("OTEL_SERVICE_NAME")
        || std::env::var("OTEL_RESOURCE_ATTRIBUTES").is_ok_and(|a| {
            a.split(',')
                .any(|kv| kv.trim().starts_with("service.name="))
        });
    let builder = Resource::builder();
    match named {
        true => builder.build(),
        false => builder.with_service_name("strata").build(),
    }
}

impl Export {
    /// The library's handle on these providers (a signal not exported
    /// goes to a provider that drops it).
    pub(crate) fn telemetry(&self) -> Telemetry {
        let traces = self.traces.clone().unwrap_or_default();
        let metrics = self.metrics.clone().unwrap_or_default();
        Telemetry::with_providers(&traces, &metrics)
    }

    /// Sends what is buffered and stops the exporters. Blocks: called off
    /// the runtime's own thread (the gRPC client needs it running).
    pub(crate) fn shutdown(self) {
        if let Some(t) = self.traces {
            let _ = t.shutdown();
        }
        if let Some(m) = self.metrics {
            let _ = m.shutdown();
        }
    }
}
