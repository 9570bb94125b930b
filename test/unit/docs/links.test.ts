import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/**
 * Docs are part of the product: every relative link in the README and docs/*.md must lead to a file that exists,
 * and a `#fragment` to a heading in it (GitHub's slug rule), so a refactor cannot silently strand a reader.
 */
const ROOT = resolve(__dirname, '..', '..', '..');
const FILES = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** GitHub's heading anchors: lower-case, punctuation dropped, spaces to hyphens. */
export function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/`/g, '')
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  let inFence = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) inFence = !inFence;
    const m = !inFence && /^#{1,6}\s+(.*)$/.exec(line);
    if (m) anchors.add(slug(m[1]!));
  }
  return anchors;
}

function linksOf(markdown: string): string[] {
  const withoutCode = markdown.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
  return [...withoutCode.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((t) => !/^[a-z]+:/i.test(t));
}

describe('documentation links', () => {
  it('finds the README and the docs pages', () => {
    expect(FILES).toContain('README.md');
    expect(FILES.length).toBeGreaterThan(5);
  });

  it.each(FILES)('every relative link in %s leads somewhere real', (file) => {
    const text = readFileSync(join(ROOT, file), 'utf8');
    const broken: string[] = [];
    for (const link of linksOf(text)) {
      const [path, fragment] = link.split('#') as [string, string | undefined];
      const target = path === '' ? join(ROOT, file) : resolve(dirname(join(ROOT, file)), path);
      if (!existsSync(target)) {
        broken.push(`${link} (no file ${relative(ROOT, target)})`);
        continue;
      }
      if (fragment !== undefined && target.endsWith('.md') && !anchorsOf(readFileSync(target, 'utf8')).has(fragment)) {
        broken.push(`${link} (no heading #${fragment} in ${relative(ROOT, target)})`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('slugs headings the way GitHub does', () => {
    expect(slug('Pointing the product at the real DrChrono')).toBe('pointing-the-product-at-the-real-drchrono');
    expect(slug('CLI: `drchrono-sync`')).toBe('cli-drchrono-sync');
    expect(slug('Pipes and scripts')).toBe('pipes-and-scripts');
  });
});
