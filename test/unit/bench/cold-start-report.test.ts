import { coldStartTable, markdown } from '../../../bench/report';
import type { Metafile } from 'esbuild';
import { bytesOverFloor, COLD_START_TARGETS, DEFAULT_COLD_START_TARGET, initPartModules, type ColdStartFunction, type ColdStartSection } from '../../../bench/sections/cold-start';

const s = (median: number) => ({ median, min: median, max: median, runs: 1 });
const KB = 1024;

function fn(over: Partial<ColdStartFunction> & { fn: string }): ColdStartFunction {
  return {
    sdkPackages: ['@aws-sdk/client-sqs'],
    bundle: { bytes: 650 * KB, deflatedBytes: 200 * KB, initMs: s(110) },
    floor: { bytes: 500 * KB, deflatedBytes: 150 * KB, initMs: s(100) },
    sizeRatio: 1.3,
    initRatio: 1.1,
    topPackages: [{ pkg: '@smithy/core', bytes: 200 * KB }, { pkg: 'zod', bytes: 50 * KB }],
    overFloor: [{ pkg: 'zod', bytes: 50 * KB }, { pkg: '(project)', bytes: 25 * KB }],
    ...over,
  };
}

describe('cold-start targets', () => {
  it('holds the hot paths (webhook, sync) to 1.3x size and 1.2x init, every other function to 1.6x', () => {
    expect(COLD_START_TARGETS).toEqual({ webhook: { size: 1.3, init: 1.2 }, sync: { size: 1.3, init: 1.2 } });
    expect(DEFAULT_COLD_START_TARGET).toEqual({ size: 1.6, init: 1.6 });
  });
});

describe('bytesOverFloor', () => {
  it('lists what the bundle has beyond the floor per package, largest first, leaving out packages the floor has as much of', () => {
    const bundle = new Map([['@smithy/core', 200], ['zod', 30], ['axios', 80], ['(project)', 40], ['@aws-sdk/core', 50]]);
    const floor = new Map([['@smithy/core', 190], ['@aws-sdk/core', 50]]);
    expect(bytesOverFloor(bundle, floor, 3)).toEqual([{ pkg: 'axios', bytes: 80 }, { pkg: '(project)', bytes: 40 }, { pkg: 'zod', bytes: 30 }]);
  });
});

describe('initPartModules', () => {
  // Real files (their text decides whether they build zod schemas); the import graph is made up.
  const input = (imports: { path: string; kind: string }[]) => ({ bytes: 1, imports: imports.map((i) => ({ ...i, original: i.path })) });
  const meta = {
    inputs: {
      'functions/sync/handler.ts': input([
        { path: 'shared/ingest/ingest-message.ts', kind: 'import-statement' },
        { path: 'shared/logging/logger.ts', kind: 'import-statement' },
        { path: 'shared/drchrono/client.ts', kind: 'dynamic-import' },
        { path: 'shared/teams/team-id.ts', kind: 'dynamic-import' },
        // The SDK's own lazy imports: in the floor too, so not ours to count.
        { path: 'node_modules/bowser/es5.js', kind: 'dynamic-import' },
      ]),
      'shared/ingest/ingest-message.ts': input([{ path: 'shared/teams/team-id.ts', kind: 'import-statement' }]),
      'shared/logging/logger.ts': input([{ path: 'node_modules/zod/mini/index.js', kind: 'import-statement' }]),
      'shared/teams/team-id.ts': input([]),
      'shared/drchrono/client.ts': input([{ path: 'shared/drchrono/transport.ts', kind: 'import-statement' }]),
      'shared/drchrono/transport.ts': input([]),
      'node_modules/zod/mini/index.js': input([]),
      'node_modules/bowser/es5.js': input([]),
    },
    outputs: {},
  } as unknown as Metafile;

  it('finds the modules evaluated at init that build zod schemas, and our dynamic import targets not also reached statically', () => {
    expect(initPartModules(meta, 'functions/sync/handler.ts')).toEqual({
      // transport.ts imports zod only as a type, and only behind the dynamic import anyway.
      schemas: ['shared/ingest/ingest-message.ts', 'shared/teams/team-id.ts'],
      dynamicTargets: ['shared/drchrono/client.ts'],
    });
  });
});

describe('coldStartTable', () => {
  const section: ColdStartSection = {
    samples: 5,
    nodeVersion: 'v22.0.0',
    functions: [
      fn({ fn: 'webhook', target: { size: 1.3, init: 1.2 } }),
      fn({ fn: 'sync', sizeRatio: 1.45, initRatio: 1.25, target: { size: 1.3, init: 1.2 } }),
    ],
  };

  it('states each ratio against its target, and which are over', () => {
    const md = coldStartTable(section);
    expect(md).toContain('| `webhook` | 650 KB | 500 KB | ×1.30 / ≤ 1.3 met | 110 ms / 100 ms | ×1.10 / ≤ 1.2 met |');
    expect(md).toContain('| `sync` | 650 KB | 500 KB | ×1.45 / ≤ 1.3 **over** | 110 ms / 100 ms | ×1.25 / ≤ 1.2 **over** |');
  });

  it('lists the largest packages and what is beyond the floor, in KB and as a share of the floor', () => {
    expect(coldStartTable(section)).toContain('| `webhook` | @smithy/core 200 KB (40 %), zod 50 KB (10 %) | zod 50 KB (10 %), (project) 25 KB (5 %) |');
  });

  it('shows what module init defers to first use, and init plus that load against the floor', () => {
    const withDeferred = { ...section, functions: [fn({ fn: 'sync', deferred: [{ label: 'DrChrono client + axios', ms: { median: 40, min: 35, max: 60, runs: 5 } }] })] };
    const md = coldStartTable(withDeferred);
    expect(md).toContain('| `sync` | DrChrono client + axios | 40 ms (35 – 60) | ×1.50 |');
    expect(markdown({ coldStart: withDeferred })).toContain('| Deferred past init `sync`: DrChrono client + axios | 40 ms |');
  });

  it('says how far the same floor bundle\'s init spread across the functions that share it', () => {
    const shared = {
      ...section,
      functions: [
        fn({ fn: 'webhook', floor: { bytes: 500 * KB, deflatedBytes: 150 * KB, initMs: s(100) } }),
        fn({ fn: 'sync', floor: { bytes: 500 * KB, deflatedBytes: 150 * KB, initMs: s(130) } }),
        fn({ fn: 'reconcile', floor: { bytes: 480 * KB, deflatedBytes: 140 * KB, initMs: s(90) } }),
      ],
    };
    const md = coldStartTable(shared);
    expect(md).toContain('The same floor bundle (500 KB) was timed for 2 functions (`webhook`, `sync`): its init medians ranged 100–130 ms in this run (×1.30)');
    expect(md).not.toContain('(480 KB)');
  });

  it('leaves the deferred table out when nothing is deferred', () => {
    expect(coldStartTable(section)).not.toContain('Deferred past module init');
  });

  it('shows each part of a bundle added alone to the floor, against the whole bundle\'s init target', () => {
    const parts = [
      { label: 'the schemas', modules: ['a.ts', 'b.ts'], bytesOverFloor: 60 * KB, bytesInPart: 58 * KB, bytesInFunction: 50 * KB, initMs: s(118), floorInitMs: s(100), initRatio: 1.18 },
      { label: 'carried code', modules: ['c.ts'], bytesOverFloor: 160 * KB, initMs: s(113), floorInitMs: s(100), initRatio: 1.13 },
    ];
    // The function's own floor took 90 ms in its samples: each part is shown against the floor samples taken with it.
    const md = coldStartTable({ ...section, functions: [fn({ fn: 'sync', floor: { bytes: 500 * KB, deflatedBytes: 150 * KB, initMs: s(90) }, target: { size: 1.3, init: 1.2 }, initParts: parts })] });
    expect(md).toContain('| `sync` | the schemas: 2 modules | +60 KB; the modules 58 KB here, 50 KB in `sync` | 118 ms / 100 ms | ×1.18 (target ×1.2 for the whole bundle) |');
    // A results file from before the per-module bytes were recorded.
    expect(md).toContain('| `sync` | carried code: 1 module | +160 KB | 113 ms / 100 ms | ×1.13 (target ×1.2 for the whole bundle) |');
    expect(coldStartTable(section)).not.toContain('added alone to the floor');
  });

  it('renders a section from an older results file without targets or the floor comparison', () => {
    const old = { ...section, functions: [fn({ fn: 'oauth', target: undefined, overFloor: undefined })] };
    expect(coldStartTable(old)).toContain('| `oauth` | 650 KB | 500 KB | ×1.30 | 110 ms / 100 ms | ×1.10 |');
    expect(markdown({ coldStart: old })).toContain('| `oauth` | @smithy/core 200 KB (40 %), zod 50 KB (10 %) | – |');
  });
});
