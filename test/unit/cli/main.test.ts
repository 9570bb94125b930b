import type { CliContext } from '../../../cli/context';
import { CliError } from '../../../cli/context';
import { COMMAND_IMPORTS, COMMAND_MODULES, loadCommand, main, splitGlobalOptions } from '../../../cli/main';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, opts: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) } };
}

const fakeCtx = {} as CliContext;
const notFound = (path: string) => Object.assign(new Error(`Cannot find module '${path}'`), { code: 'MODULE_NOT_FOUND' });

describe('splitGlobalOptions', () => {
  it('takes global options from anywhere on the line, in both --opt value and --opt=value forms', () => {
    expect(splitGlobalOptions(['team', '--target', 'aws', 'show', 'x', '--stack=drchrono-sync-dev'])).toEqual({
      global: { target: 'aws', stack: 'drchrono-sync-dev' },
      rest: ['team', 'show', 'x'],
    });
  });

  it('rejects a global option without a value', () => {
    expect(() => splitGlobalOptions(['team', 'list', '--target'])).toThrow(CliError);
  });
});

describe('loadCommand', () => {
  it('reports a command whose module does not exist yet as not available', async () => {
    await expect(loadCommand('backfill', async (p) => Promise.reject(notFound(p)))).rejects.toThrow('"backfill" is not available yet');
  });

  it('reports a module without a run export as not available', async () => {
    await expect(loadCommand('log', async () => ({}))).rejects.toThrow('"log" is not available yet');
  });

  it('does not hide a missing dependency inside an existing command module', async () => {
    await expect(loadCommand('records', async () => Promise.reject(notFound('some-lib')))).rejects.toThrow("Cannot find module 'some-lib'");
  });

  it('has a literal import for every command module, so the built CLI bundles each of them', async () => {
    expect(Object.keys(COMMAND_IMPORTS).sort()).toEqual([...new Set(Object.values(COMMAND_MODULES))].sort());
    for (const name of Object.keys(COMMAND_MODULES)) expect(typeof (await loadCommand(name)).run).toBe('function');
  });

  it('rejects an unknown command', async () => {
    await expect(loadCommand('frobnicate')).rejects.toThrow('unknown command "frobnicate"');
  });
});

describe('main', () => {
  it('prints usage and exits 2 with no command', async () => {
    const c = capture();
    expect(await main([], c.opts)).toBe(2);
    expect(c.out.join('\n')).toContain('Usage: drchrono-sync');
  });

  it('dispatches to the command module with the remaining arguments and the context', async () => {
    const c = capture();
    const calls: { path: string; argv: string[]; ctx: CliContext }[] = [];
    const loader = async (path: string) => ({
      run: async (argv: string[], ctx: CliContext) => {
        calls.push({ path, argv, ctx });
        return 7;
      },
    });
    const code = await main(['--target', 'local', 'team', 'show', 'abc'], { ...c.opts, loader, context: async () => fakeCtx });
    expect(code).toBe(7);
    expect(calls).toEqual([{ path: './commands/team', argv: ['show', 'abc'], ctx: fakeCtx }]);
  });

  it('sends team fields and team choices to the team-config module', async () => {
    const paths: string[] = [];
    const loader = async (path: string) => ({ run: async () => (paths.push(path), 0) });
    await main(['team', 'fields', 'x'], { ...capture().opts, loader, context: async () => fakeCtx });
    await main(['team', 'choices', 'x'], { ...capture().opts, loader, context: async () => fakeCtx });
    expect(paths).toEqual(['./commands/team-config', './commands/team-config']);
  });

  it('passes the global options to the context builder', async () => {
    let seen: unknown;
    const loader = async () => ({ run: async () => 0 });
    await main(['--target=aws', '--stack', 'drchrono-sync-dev', '--region', 'eu-west-1', 'team', 'list'], {
      ...capture().opts,
      loader,
      context: async (o) => {
        seen = o;
        return fakeCtx;
      },
    });
    expect(seen).toMatchObject({ target: 'aws', stack: 'drchrono-sync-dev', region: 'eu-west-1' });
  });

  it('prints a CliError without a stack and exits with its code', async () => {
    const c = capture();
    const loader = async () => ({
      run: async () => {
        throw new CliError('team id must be a UUID', 2);
      },
    });
    expect(await main(['team', 'show', 'x'], { ...c.opts, loader, context: async () => fakeCtx })).toBe(2);
    expect(c.err).toEqual(['error: team id must be a UUID']);
  });

  it('prints an unexpected error as class and message only, exit 1', async () => {
    const c = capture();
    const loader = async () => ({
      run: async () => {
        throw new TypeError('boom');
      },
    });
    expect(await main(['team', 'list'], { ...c.opts, loader, context: async () => fakeCtx })).toBe(1);
    expect(c.err).toEqual(['error: TypeError: boom']);
  });
});
