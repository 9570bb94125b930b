import { waitForReady } from '../../../local/emulators/wait-ready';

/** A fake clock: sleeping moves time, so minutes of waiting take no real time. */
function fakeTime() {
  let t = 0;
  return { now: () => t, sleep: async (ms: number) => void (t += ms), advance: (ms: number) => void (t += ms) };
}

describe('waitForReady', () => {
  it('keeps waiting for a live service that needs minutes to start (a loaded CI machine), reporting progress', async () => {
    const time = fakeTime();
    const reports: string[] = [];
    let probes = 0;
    await waitForReady({
      what: 'DynamoDB Local',
      probe: async () => {
        probes++;
        if (time.now() < 150_000) throw new Error('connection refused');
      },
      gone: () => undefined,
      report: (l) => reports.push(l),
      now: time.now,
      sleep: time.sleep,
    });
    expect(time.now()).toBeGreaterThanOrEqual(150_000);
    expect(probes).toBeGreaterThan(100);
    expect(reports.length).toBeGreaterThanOrEqual(9);
    expect(reports[0]).toMatch(/still waiting for DynamoDB Local \(15 s\)/);
  });

  it('fails at once, with the reason, when the process exits before it is ready', async () => {
    const time = fakeTime();
    let exited = false;
    const p = waitForReady({
      what: 'DynamoDB Local',
      probe: async () => {
        exited = true;
        throw new Error('refused');
      },
      gone: () => (exited ? 'exited (code 1)' : undefined),
      now: time.now,
      sleep: time.sleep,
    });
    await expect(p).rejects.toThrow('DynamoDB Local exited (code 1) before it was ready');
    expect(time.now()).toBeLessThan(1000);
  });

  it('gives up on a live but wedged process only after the generous limit', async () => {
    const time = fakeTime();
    const p = waitForReady({
      what: 'X',
      probe: async () => {
        throw new Error('refused');
      },
      gone: () => undefined,
      giveUpAfterMs: 600_000,
      now: time.now,
      sleep: time.sleep,
    });
    await expect(p).rejects.toThrow(/X was alive but not ready after 600 s/);
  });
});
