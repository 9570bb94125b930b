import { stackTags, UNTAGGED_RESOURCE_TYPES } from '../../lib/secure-defaults';
import { resourcesOfType, synthStack, type SynthesizedStack } from './synth-stack';

type Tag = { Key: string; Value: string };

describe.each(['dev', 'prod'] as const)('resource tags (%s)', (stage) => {
  let s: SynthesizedStack;
  beforeAll(() => {
    s = synthStack(stage);
  });

  // cfn-lint's schemas for us-east-1 (and other regions) have no Tags on AWS::CloudWatch::Dashboard, and
  // CloudFormation rejects a property its region's schema lacks: the stack must deploy in us-east-1.
  it('puts no Tags on the CloudWatch dashboard', () => {
    const dashboards = Object.values(resourcesOfType(s.template, 'AWS::CloudWatch::Dashboard'));
    expect(dashboards).toHaveLength(1);
    for (const d of dashboards) expect(d.Properties).not.toHaveProperty('Tags');
  });

  it('puts no Tags on any resource type listed as untagged', () => {
    for (const type of UNTAGGED_RESOURCE_TYPES) {
      for (const r of Object.values(resourcesOfType(s.template, type))) expect(r.Properties).not.toHaveProperty('Tags');
    }
  });

  it.each(['AWS::DynamoDB::Table', 'AWS::SQS::Queue', 'AWS::KMS::Key', 'AWS::Lambda::Function', 'AWS::SNS::Topic'])(
    'still tags every %s with project, stage and data classification',
    (type) => {
      const resources = Object.values(resourcesOfType(s.template, type));
      expect(resources.length).toBeGreaterThan(0);
      const expected = Object.entries(stackTags(stage)).map(([Key, Value]) => ({ Key, Value }));
      for (const r of resources) expect(r.Properties?.Tags as Tag[]).toEqual(expect.arrayContaining(expected));
    },
  );
});
