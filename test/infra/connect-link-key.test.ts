import { resourceNames } from '../../shared/config/resource-names';
import { parseConnectLinkKeys } from '../../shared/oauth/connect-link-key';
import { logicalIdOf, resourcesOfType, synthStack, type SynthesizedStack } from './synth-stack';

type Statement = { Effect: string; Action: string | string[]; Resource: unknown };
const actionsOf = (st: Statement): string[] => (Array.isArray(st.Action) ? st.Action : [st.Action]);

describe.each(['dev', 'prod'] as const)('connect-link signing key (%s)', (stage) => {
  let s: SynthesizedStack;
  let secretId: string;
  beforeAll(() => {
    s = synthStack(stage);
    secretId = logicalIdOf(s.stack, s.stack.connectLinkKey.secret);
  });

  it("is one secret named for the stage, outside the team-secret prefix, encrypted with the stack's CMK", () => {
    const secret = resourcesOfType(s.template, 'AWS::SecretsManager::Secret')[secretId]!;
    const name = resourceNames(stage).connectLinkKeySecret;
    expect(secret.Properties).toMatchObject({
      Name: name,
      KmsKeyId: { 'Fn::GetAtt': [logicalIdOf(s.stack, s.stack.encryptionKey.key), 'Arn'] },
      GenerateSecretString: { GenerateStringKey: 'initialKey', PasswordLength: 64, ExcludePunctuation: true },
    });
    expect(name.startsWith(resourceNames(stage).teamSecretPrefix)).toBe(false);
  });

  it('generates a secret the oauth function can parse', () => {
    const secret = resourcesOfType(s.template, 'AWS::SecretsManager::Secret')[secretId]!;
    const generate = (secret.Properties as { GenerateSecretString: { SecretStringTemplate: string } }).GenerateSecretString;
    const generated = { ...JSON.parse(generate.SecretStringTemplate), initialKey: 'x'.repeat(64) };
    expect(parseConnectLinkKeys(JSON.stringify(generated)).keys).toEqual([{ id: 'initial', secret: 'x'.repeat(64) }]);
  });

  it('lets only the oauth function read it, with GetSecretValue only', () => {
    const readers: Record<string, string[]> = {};
    for (const [name, fn] of Object.entries(s.stack.functions)) {
      const policyId = logicalIdOf(s.stack, fn.role.node.findChild('DefaultPolicy'));
      const doc = (resourcesOfType(s.template, 'AWS::IAM::Policy')[policyId]!.Properties as { PolicyDocument: { Statement: Statement[] } }).PolicyDocument;
      const onKey = doc.Statement.filter((st) => JSON.stringify(st.Resource).includes(`"Ref":"${secretId}"`));
      if (onKey.length) readers[name] = onKey.flatMap(actionsOf).sort();
    }
    expect(readers).toEqual({ oauth: ['secretsmanager:GetSecretValue'] });
  });

  it("gives the oauth function the secret's ARN and the stack the secret's name as an output", () => {
    const fnId = logicalIdOf(s.stack, s.stack.functions.oauth.fn);
    const fn = resourcesOfType(s.template, 'AWS::Lambda::Function')[fnId]!;
    expect((fn.Properties as { Environment: { Variables: Record<string, unknown> } }).Environment.Variables.CONNECT_LINK_KEY_SECRET_ID).toEqual({ Ref: secretId });
    s.template.hasOutput('ConnectLinkKeySecretName', { Value: resourceNames(stage).connectLinkKeySecret });
  });
});
