import { CfnSamplingRule } from 'aws-cdk-lib/aws-xray';
import { Construct } from 'constructs';

/**
 * The X-Ray sampling rule of the stack's services. Without one, X-Ray's default applies (a reservoir of 1 trace per
 * second, then 5 % of further requests): at a million webhook events that is about 50,000 traces, $0.25 per 1M
 * events at $5 per 1M traces, a tenth of the pipeline's floor. Kept: the reservoir (one trace a second whenever
 * there is traffic, enough to see latency and errors; its cost is capped per month), with 0.1 % of the requests
 * above it. bench/cost-model.ts prices the reservoir as a monthly fixed cost and the fixed rate per event.
 */
export const TRACE_SAMPLING = {
  /** Traces per second taken first, across all of the stack's functions. */
  reservoirPerSecond: 1,
  /** Share of the requests beyond the reservoir that are traced. */
  fixedRate: 0.001,
  /** Before X-Ray's default rule (priority 10000). */
  priority: 1000,
} as const;

export interface TraceSamplingProps {
  stage: string;
}

/** One sampling rule matching the stack's functions by their name prefix (`drchrono-sync-<stage>-*`). */
export class TraceSampling extends Construct {
  readonly rule: CfnSamplingRule;
  readonly ruleName: string;

  constructor(scope: Construct, id: string, props: TraceSamplingProps) {
    super(scope, id);
    // At most 32 characters: `drchrono-sync-prod` is 18.
    this.ruleName = `drchrono-sync-${props.stage}`;
    this.rule = new CfnSamplingRule(this, 'Rule', {
      samplingRule: {
        ruleName: this.ruleName,
        priority: TRACE_SAMPLING.priority,
        reservoirSize: TRACE_SAMPLING.reservoirPerSecond,
        fixedRate: TRACE_SAMPLING.fixedRate,
        serviceName: `drchrono-sync-${props.stage}-*`,
        serviceType: '*',
        host: '*',
        httpMethod: '*',
        urlPath: '*',
        resourceArn: '*',
        version: 1,
      },
    });
  }
}
