import { TRACE_SAMPLING } from '../../lib/trace-sampling';
import { resourcesOfType, synthStack, type SynthesizedStack } from './synth-stack';

/** X-Ray's default rule, which applies to anything no rule of ours matches. */
const DEFAULT_RULE = { reservoirSize: 1, fixedRate: 0.05, priority: 10_000 };

const globMatches = (glob: string, value: string): boolean =>
  new RegExp(`^${glob.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`).test(value);

describe.each(['dev', 'prod'] as const)('trace sampling (%s)', (stage) => {
  let s: SynthesizedStack;
  beforeAll(() => {
    s = synthStack(stage);
  });
  const rules = () => Object.values(resourcesOfType(s.template, 'AWS::XRay::SamplingRule'));
  const rule = () => rules()[0]?.Properties?.SamplingRule as Record<string, unknown>;

  it('configures one sampling rule: a reservoir of 1 trace/s and 0.1 % of the rest, ahead of the default rule', () => {
    expect(rules()).toHaveLength(1);
    expect(rule()).toEqual({
      RuleName: `drchrono-sync-${stage}`,
      Priority: 1000,
      ReservoirSize: 1,
      FixedRate: 0.001,
      ServiceName: `drchrono-sync-${stage}-*`,
      ServiceType: '*',
      Host: '*',
      HTTPMethod: '*',
      URLPath: '*',
      ResourceARN: '*',
      Version: 1,
    });
    expect(TRACE_SAMPLING.priority).toBeLessThan(DEFAULT_RULE.priority);
    expect(TRACE_SAMPLING.fixedRate).toBeLessThan(DEFAULT_RULE.fixedRate);
  });

  it('matches every function of the stack, and each is actively traced', () => {
    const fns = Object.values(resourcesOfType(s.template, 'AWS::Lambda::Function')).filter((f) => typeof f.Properties?.FunctionName === 'string');
    expect(fns.length).toBe(Object.keys(s.stack.functions).length);
    for (const f of fns) {
      expect(globMatches(String(rule().ServiceName), String(f.Properties?.FunctionName))).toBe(true);
      expect(f.Properties?.TracingConfig).toEqual({ Mode: 'Active' });
    }
  });

  it('matches no other stage’s functions', () => {
    const other = stage === 'dev' ? 'prod' : 'dev';
    expect(globMatches(String(rule().ServiceName), `drchrono-sync-${other}-webhook`)).toBe(false);
  });
});
