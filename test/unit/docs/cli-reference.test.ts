import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { COMMAND_MODULES, USAGE } from '../../../cli/main';

/**
 * docs/cli.md is the operator's reference: every command the CLI's usage text lists has a heading naming it,
 * and every option any usage text shows appears in the page. Usage texts are the `*_USAGE` string exports of every
 * module in COMMAND_MODULES, so a new command module or option is checked without touching this test.
 */
const ROOT = resolve(__dirname, '..', '..', '..');
const DOC = readFileSync(join(ROOT, 'docs', 'cli.md'), 'utf8');

/** `team add <teamId> ...` -> ['team add']; `team fields|choices ...` -> ['team fields', 'team choices']. */
export function commandsOf(usage: string): string[] {
  const lines = usage.split('\n');
  const start = lines.findIndex((l) => l.trim() === 'Commands:');
  const out: string[] = [];
  for (const line of lines.slice(start + 1)) {
    const m = /^ {2}(\S.*)$/.exec(line);
    if (!m) {
      if (line.trim() === '') break;
      continue;
    }
    const words: string[] = [];
    for (const w of m[1]!.split(/\s+/)) {
      if (/^[<[\-.]/.test(w)) break;
      words.push(w);
    }
    const last = words.pop();
    if (last === undefined) continue;
    for (const alt of last.split('|')) out.push([...words, alt].join(' '));
  }
  return out;
}

export function optionsOf(usage: string): string[] {
  return [...new Set([...usage.matchAll(/(?<![\w-])--[a-z][a-z-]*/g)].map((m) => m[0]))];
}

async function usageTexts(): Promise<string[]> {
  const texts = [USAGE];
  for (const path of Object.values(COMMAND_MODULES)) {
    const mod = (await import(join(ROOT, 'cli', path))) as Record<string, unknown>;
    for (const [name, value] of Object.entries(mod)) if (name.endsWith('_USAGE') && typeof value === 'string') texts.push(value);
  }
  return texts;
}

/** Headings of any level, backticks dropped: `### team add` and `## Team lifecycle: `team disable`` both count. */
const headings = [...DOC.matchAll(/^#{2,4} (.+)$/gm)].map((m) => m[1]!.replace(/`/g, '').toLowerCase());
const hasSection = (command: string): boolean => headings.some((h) => h.includes(command));

describe('docs/cli.md covers the CLI', () => {
  it('reads commands and options out of usage text', () => {
    expect(commandsOf('Usage: x\n\nCommands:\n  team add <id> --a X\n      more\n  team fields|choices ...  y\n  log ...  z\n\nTarget: ...')).toEqual([
      'team add',
      'team fields',
      'team choices',
      'log',
    ]);
    expect(optionsOf('x [--client-id X] [--json] a-b --no-seed')).toEqual(['--client-id', '--json', '--no-seed']);
  });

  it('has a section for every command the top-level usage lists', () => {
    const commands = commandsOf(USAGE);
    expect(commands.length).toBeGreaterThan(5);
    expect(commands.filter((c) => !hasSection(c))).toEqual([]);
  });

  it('mentions every option that any command\'s usage shows', async () => {
    const options = [...new Set((await usageTexts()).flatMap(optionsOf))];
    expect(options.length).toBeGreaterThan(20);
    expect(options.filter((o) => !DOC.includes(o))).toEqual([]);
  });
});
