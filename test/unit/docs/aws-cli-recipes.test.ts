import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * AWS CLI v1 ignores AWS_REGION (only the SDKs and CLI v2 read it) and fails with "You must specify a region".
 * A recipe in the README or docs that sets AWS_REGION must also set AWS_DEFAULT_REGION, or pass --region to every
 * `aws` command, so it works with CLI v1 and v2.
 */
const ROOT = resolve(__dirname, '..', '..', '..');
const FILES = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** Fenced blocks and runs of 4-space-indented lines: what a reader copies into a shell. */
export function shellBlocks(markdown: string): string[] {
  const blocks: string[] = [];
  let fenced: string[] | undefined;
  let indented: string[] = [];
  const flushIndented = () => {
    if (indented.length > 0) blocks.push(indented.join('\n'));
    indented = [];
  };
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) {
      flushIndented();
      if (fenced) {
        blocks.push(fenced.join('\n'));
        fenced = undefined;
      } else fenced = [];
      continue;
    }
    if (fenced) fenced.push(line);
    else if (line.startsWith('    ')) indented.push(line);
    else if (line.trim() !== '') flushIndented();
  }
  flushIndented();
  return blocks;
}

/** Why a block would fail under AWS CLI v1, or undefined. */
export function cliV1Problem(block: string): string | undefined {
  if (!/\bAWS_REGION=/.test(block) || /\bAWS_DEFAULT_REGION=/.test(block)) return undefined;
  // Join continuation lines, then look at each `aws <service>` command.
  const commands = block.replace(/\\\n/g, ' ').split('\n').filter((l) => /(^|\s)aws\s+(--[a-z-]+\s+\S+\s+)*[a-z0-9-]+\s+[a-z]/.test(l));
  const withoutRegion = commands.filter((c) => !/\s--region[\s=]/.test(c));
  return withoutRegion.length > 0 ? `sets AWS_REGION only; CLI v1 ignores it in: ${withoutRegion[0]!.trim()}` : undefined;
}

describe('AWS CLI recipes in the docs', () => {
  it('flags a block that sets only AWS_REGION before an aws command, and accepts the fixed forms', () => {
    const broken = 'AWS_REGION=us-east-1 \\\n  aws --endpoint-url http://127.0.0.1:8000 dynamodb scan --table-name t';
    expect(cliV1Problem(broken)).toContain('CLI v1 ignores it');
    expect(cliV1Problem(broken.replace('AWS_REGION=us-east-1', 'AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1'))).toBeUndefined();
    expect(cliV1Problem(`${broken} --region us-east-1`)).toBeUndefined();
  });

  it('finds fenced and indented shell blocks', () => {
    expect(shellBlocks('text\n\n```sh\na\n```\n\n    b\n    c\n\nmore')).toEqual(['a', '    b\n    c']);
  });

  it.each(FILES)('every recipe in %s that sets AWS_REGION works with AWS CLI v1 and v2', (file) => {
    const problems = shellBlocks(readFileSync(join(ROOT, file), 'utf8'))
      .map(cliV1Problem)
      .filter((p): p is string => p !== undefined);
    expect(problems).toEqual([]);
  });
});
