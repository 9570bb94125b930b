import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { DrChronoSyncStack } from '../../lib/drchrono-sync-stack';
import type { DeployStage } from '../../lib/secure-defaults';

export const REPO_ROOT = path.resolve(__dirname, '../..');

/** The feature flags `cdk synth` uses, so the tests see the template that deploys. */
function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')) as { context?: Record<string, unknown> };
  return cdkJson.context ?? {};
}

export interface SynthesizedStack {
  app: App;
  stack: DrChronoSyncStack;
  template: Template;
}

/** Builds the real stack against the real functions/ directory, with esbuild bundling skipped. */
export function synthStack(stage: DeployStage): SynthesizedStack {
  const app = new App({ context: { ...cdkJsonContext(), stage, 'aws:cdk:bundling-stacks': [] } });
  const stack = new DrChronoSyncStack(app, `drchrono-sync-${stage}`, { stage, repoRoot: REPO_ROOT });
  return { app, stack, template: Template.fromStack(stack) };
}

type CfnResources = Record<string, { Type: string; Properties?: Record<string, unknown>; [k: string]: unknown }>;

/** Resources of a type, by logical id. */
export function resourcesOfType(template: Template, type: string): CfnResources {
  return template.findResources(type) as CfnResources;
}

/** The logical id of a construct's CloudFormation resource, for Ref/GetAtt matching. */
export function logicalIdOf(stack: DrChronoSyncStack, construct: { node: { defaultChild?: unknown } }): string {
  const child = construct.node.defaultChild as Parameters<DrChronoSyncStack['getLogicalId']>[0] | undefined;
  if (!child) throw new Error('construct has no default child');
  return stack.resolve(stack.getLogicalId(child)) as string;
}
