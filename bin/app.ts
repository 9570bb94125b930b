import { App } from 'aws-cdk-lib';
import { fileURLToPath } from 'node:url';
import { DrChronoSyncStack } from '../lib/drchrono-sync-stack';
import { addNagChecks } from '../lib/nag';
import { parseDeployStage } from '../lib/secure-defaults';

// `npx cdk synth -c stage=prod`: the stage picks names and removal policies; the stack is environment-agnostic,
// so synth needs no AWS credentials and deploy targets the account and region of the caller's profile.
const app = new App();
const stage = parseDeployStage(app.node.tryGetContext('stage'));
new DrChronoSyncStack(app, `drchrono-sync-${stage}`, {
  stage,
  repoRoot: fileURLToPath(new URL('..', import.meta.url)),
  description: `drchrono-sync (${stage}): DrChrono EHR webhooks and OAuth to DynamoDB`,
  terminationProtection: stage === 'prod',
});
addNagChecks(app);
app.synth();
