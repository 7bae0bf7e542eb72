import {
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  makeWorkflowExporter,
} from '@temporalio/interceptors-opentelemetry';
import type { ActivityInterceptorsFactory, WorkerOptions } from '@temporalio/worker';
import type { Tracing } from '../observability/tracing';

/** @temporalio/interceptors-opentelemetry's header carrying the trace context */
const TRACE_HEADER = '_tracer-data';

/** Every activity takes a transfer (or a change of one) first; its id goes on each log line. */
function transferIdOf(args: unknown[]): string | undefined {
  const id = (args[0] as { transferId?: unknown } | undefined)?.transferId;
  return typeof id === 'string' ? id : undefined;
}

/** Adds `transferId` to the activity's log attributes (the SDK adds workflowId, activityType, attempt, …). */
const transferLogAttributes: ActivityInterceptorsFactory = () => {
  let transferId: string | undefined;
  return {
    inbound: {
      execute(input, next) {
        transferId = transferIdOf(input.args);
        return next(input);
      },
    },
    outbound: {
      getLogAttributes(input, next) {
        return next(transferId ? { transferId, ...input } : input);
      },
    },
  };
};

/** The worker's activity interceptors: log attributes always, OpenTelemetry spans when tracing is on. */
export function activityInterceptors(tracing: Tracing): ActivityInterceptorsFactory[] {
  const factories = [transferLogAttributes];
  if (tracing.enabled) {
    const options = tracing.tracer ? { tracer: tracing.tracer } : {};
    factories.push((ctx) => {
      const otelInbound = new OpenTelemetryActivityInboundInterceptor(ctx, options);
      return {
        // like the workflow (workflows/interceptors.ts): only activities of a traced transfer are traced
        inbound: {
          execute: (input, next) =>
            input.headers[TRACE_HEADER] === undefined ? next(input) : otelInbound.execute(input, next),
        },
        outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
      };
    });
  }
  return factories;
}

/**
 * The `exporter` sink the workflow-side OpenTelemetry interceptors send their spans to. Always
 * registered: with tracing off on this worker (but on where the workflow was started), the spans of
 * a traced workflow are dropped here instead of the SDK logging an unregistered-sink error.
 */
export function workflowSinks(tracing: Tracing): NonNullable<WorkerOptions['sinks']> {
  if (tracing.enabled && tracing.spanProcessor && tracing.resource) {
    return { exporter: makeWorkflowExporter(tracing.spanProcessor, tracing.resource) };
  }
  return { exporter: { export: { fn: () => undefined } } };
}
