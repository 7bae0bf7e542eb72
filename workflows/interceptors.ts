/**
 * Workflow interceptors, bundled with the workflows (worker/bundle.ts: WORKFLOW_INTERCEPTOR_MODULES).
 * Not a workflow; deterministic code only, like everything in the bundle.
 *
 * 1. Log attributes: every workflow log line carries the transfer id (the workflow id, run id and
 *    type come from the SDK).
 * 2. OpenTelemetry, for traced transfers only: a workflow whose start carried a trace context
 *    (the `_tracer-data` header, put there by the API's OpenTelemetryWorkflowClientInterceptor when
 *    OTEL_EXPORTER_OTLP_ENDPOINT is set) gets @temporalio/interceptors-opentelemetry's workflow
 *    interceptors: a RunWorkflow span, a StartActivity span per activity and the context passed on
 *    to the activities. An untraced workflow does not even load the OpenTelemetry modules and runs
 *    exactly as without this file. The choice depends on the start event's header alone, which is
 *    in the history, so a replay takes the same path.
 */
import type {
  ActivityInput,
  ContinueAsNewInput,
  DisposeInput,
  GetLogAttributesInput,
  LocalActivityInput,
  Next,
  SignalInput,
  SignalWorkflowInput,
  StartChildWorkflowExecutionInput,
  WorkflowExecuteInput,
  WorkflowInboundCallsInterceptor,
  WorkflowInterceptors,
  WorkflowInternalsInterceptor,
  WorkflowOutboundCallsInterceptor,
} from '@temporalio/workflow';

type OtelWorkflowModule = typeof import('@temporalio/interceptors-opentelemetry/lib/workflow');

/** @temporalio/interceptors-opentelemetry's header (TRACE_HEADER) */
const TRACE_HEADER = '_tracer-data';

interface Otel {
  inbound: WorkflowInboundCallsInterceptor;
  outbound: WorkflowOutboundCallsInterceptor;
  internals: WorkflowInternalsInterceptor;
}

function loadOtel(): Otel {
  // loaded on the first traced workflow only: it patches the sandbox's globals for OpenTelemetry
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const m = require('@temporalio/interceptors-opentelemetry/lib/workflow') as OtelWorkflowModule;
  return {
    inbound: new m.OpenTelemetryInboundInterceptor(),
    outbound: new m.OpenTelemetryOutboundInterceptor(),
    internals: new m.OpenTelemetryInternalsInterceptor(),
  };
}

function transferIdOf(args: unknown[]): string | undefined {
  const input = args[0] as { transfer?: { transferId?: unknown } } | undefined;
  const id = input?.transfer?.transferId;
  return typeof id === 'string' ? id : undefined;
}

export const interceptors = (): WorkflowInterceptors => {
  // per workflow execution: the factory runs once for each
  let otel: Otel | undefined;
  let transferId: string | undefined;

  const inbound: WorkflowInboundCallsInterceptor = {
    execute(input: WorkflowExecuteInput, next: Next<WorkflowInboundCallsInterceptor, 'execute'>) {
      transferId = transferIdOf(input.args);
      if (input.headers[TRACE_HEADER] === undefined) return next(input);
      otel = loadOtel();
      return otel.inbound.execute!(input, next);
    },
    handleSignal(input: SignalInput, next: Next<WorkflowInboundCallsInterceptor, 'handleSignal'>) {
      if (!otel || input.headers[TRACE_HEADER] === undefined) return next(input);
      return otel.inbound.handleSignal!(input, next);
    },
  };

  const outbound: WorkflowOutboundCallsInterceptor = {
    scheduleActivity(input: ActivityInput, next: Next<WorkflowOutboundCallsInterceptor, 'scheduleActivity'>) {
      return otel ? otel.outbound.scheduleActivity!(input, next) : next(input);
    },
    scheduleLocalActivity(
      input: LocalActivityInput,
      next: Next<WorkflowOutboundCallsInterceptor, 'scheduleLocalActivity'>,
    ) {
      return otel ? otel.outbound.scheduleLocalActivity!(input, next) : next(input);
    },
    startChildWorkflowExecution(
      input: StartChildWorkflowExecutionInput,
      next: Next<WorkflowOutboundCallsInterceptor, 'startChildWorkflowExecution'>,
    ) {
      return otel ? otel.outbound.startChildWorkflowExecution!(input, next) : next(input);
    },
    signalWorkflow(input: SignalWorkflowInput, next: Next<WorkflowOutboundCallsInterceptor, 'signalWorkflow'>) {
      return otel ? otel.outbound.signalWorkflow!(input, next) : next(input);
    },
    continueAsNew(input: ContinueAsNewInput, next: Next<WorkflowOutboundCallsInterceptor, 'continueAsNew'>) {
      return otel ? otel.outbound.continueAsNew!(input, next) : next(input);
    },
    getLogAttributes(input: GetLogAttributesInput, next: Next<WorkflowOutboundCallsInterceptor, 'getLogAttributes'>) {
      const withTransfer = transferId ? { transferId, ...input } : input;
      return otel ? otel.outbound.getLogAttributes!(withTransfer, next) : next(withTransfer);
    },
  };

  const internals: WorkflowInternalsInterceptor = {
    dispose(input: DisposeInput, next: Next<WorkflowInternalsInterceptor, 'dispose'>) {
      if (otel) return otel.internals.dispose!(input, next);
      return next(input);
    },
  };

  return { inbound: [inbound], outbound: [outbound], internals: [internals] };
};
