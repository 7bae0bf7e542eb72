import { context, propagation, trace, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { Config } from '../config';

/**
 * OpenTelemetry tracing of one process (API or worker). Off unless OTEL_EXPORTER_OTLP_ENDPOINT is
 * set: then no provider is registered, no interceptor is installed and nothing is exported, so an
 * untraced deployment runs exactly the code it ran before tracing existed.
 *
 * On: a NodeTracerProvider registered globally (AsyncLocalStorage context manager, W3C
 * traceparent/baggage propagators) exporting OTLP/HTTP in batches to
 * `${OTEL_EXPORTER_OTLP_ENDPOINT}/v1/traces`. The API opens a span per request and starts
 * workflows inside it (OpenTelemetryWorkflowClientInterceptor puts the context into the workflow's
 * headers); the workflow's spans (made in the sandbox by workflows/interceptors.ts) come out through
 * the `exporter` sink into the same span processor, and each activity's span continues the
 * workflow's trace. One transfer is one trace: HTTP request → StartWorkflow → RunWorkflow → StartActivity → RunActivity.
 */
export interface Tracing {
  readonly enabled: boolean;
  /** the tracer our own spans (HTTP requests) and the Temporal interceptors use; set when enabled */
  readonly tracer?: Tracer;
  /** where workflow spans (through the worker's sink) and every other span end up */
  readonly spanProcessor?: SpanProcessor;
  readonly resource?: Resource;
  /** flushes pending spans and unregisters the global provider */
  shutdown(): Promise<void>;
}

export const TRACING_OFF: Tracing = Object.freeze({ enabled: false, shutdown: async () => undefined });

/** The OTLP/HTTP traces URL for a collector base URL (the OTEL_EXPORTER_OTLP_ENDPOINT convention). */
export function otlpTracesUrl(endpoint: string): string {
  const base = endpoint.replace(/\/+$/, '');
  return base.endsWith('/v1/traces') ? base : `${base}/v1/traces`;
}

export interface StartTracingOptions {
  /** Export to this exporter, span by span, instead of OTLP (tests: InMemorySpanExporter); enables tracing. */
  exporter?: SpanExporter;
}

export function startTracing(
  config: Pick<Config, 'OTEL_EXPORTER_OTLP_ENDPOINT' | 'OTEL_SERVICE_NAME'>,
  defaultServiceName: string,
  opts: StartTracingOptions = {},
): Tracing {
  const endpoint = config.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (!opts.exporter && !endpoint) return TRACING_OFF;
  const resource = new Resource({ 'service.name': config.OTEL_SERVICE_NAME ?? defaultServiceName });
  const spanProcessor = opts.exporter
    ? new SimpleSpanProcessor(opts.exporter)
    : new BatchSpanProcessor(new OTLPTraceExporter({ url: otlpTracesUrl(endpoint!) }));
  const provider = new NodeTracerProvider({ resource, spanProcessors: [spanProcessor] });
  provider.register();
  let stopped: Promise<void> | undefined;
  return {
    enabled: true,
    tracer: provider.getTracer('wallet-transfers'),
    spanProcessor,
    resource,
    shutdown() {
      stopped ??= provider.shutdown().finally(() => {
        trace.disable();
        context.disable();
        propagation.disable();
      });
      return stopped;
    },
  };
}
