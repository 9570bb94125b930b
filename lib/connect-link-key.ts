import type { RemovalPolicy } from 'aws-cdk-lib';
import { Effect, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { AppFunction } from './app-function';

export interface ConnectLinkKeyProps {
  /** `drchrono-sync/<stage>/connect-link-key` (shared/config/resource-names.ts). */
  secretName: string;
  key: IKey;
  removalPolicy: RemovalPolicy;
}

/**
 * The connect-link signing keys (shared/oauth/connect-link-key.ts): one secret, created with a generated 64-character
 * `initialKey`; `drchrono-sync connect-key rotate` replaces it with a new key and keeps the previous one for
 * verification. Its name is outside the team-secret prefix, so no team-secret grant covers it; only the oauth
 * function may read it (granted here, pinned in test/infra).
 */
export class ConnectLinkKey extends Construct {
  readonly secret: Secret;

  constructor(scope: Construct, id: string, props: ConnectLinkKeyProps) {
    super(scope, id);
    this.secret = new Secret(this, 'Secret', {
      secretName: props.secretName,
      description: 'drchrono-sync connect-link signing keys; rotate with `drchrono-sync connect-key rotate` (docs/cli.md)',
      encryptionKey: props.key,
      removalPolicy: props.removalPolicy,
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ format: 'drchrono-sync-connect-link-keys/1' }),
        generateStringKey: 'initialKey',
        passwordLength: 64,
        excludePunctuation: true,
      },
    });
  }

  /** Exactly GetSecretValue on this one secret (the function decrypts with the stack's CMK, already granted). */
  allowRead(fn: AppFunction): void {
    fn.role.addToPrincipalPolicy(new PolicyStatement({ effect: Effect.ALLOW, actions: ['secretsmanager:GetSecretValue'], resources: [this.secret.secretArn] }));
  }
}
