import { scheduledEvent, Scheduler } from '../../../local/scheduler';

describe('scheduledEvent', () => {
  it('has the shape of an EventBridge schedule rule event', () => {
    const event = scheduledEvent('drchrono-sync-local-token-refresh-schedule', 'us-east-1', new Date('2026-01-02T03:04:05.678Z'));
    expect(event).toMatchObject({
      version: '0',
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      account: '000000000000',
      time: '2026-01-02T03:04:05Z',
      region: 'us-east-1',
      resources: ['arn:aws:events:us-east-1:000000000000:rule/drchrono-sync-local-token-refresh-schedule'],
      detail: {},
    });
    expect(event.id).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('Scheduler', () => {
  afterEach(() => jest.useRealTimers());

  it('logs the error class of a failed scheduled run instead of swallowing it, and keeps ticking', async () => {
    jest.useFakeTimers();
    const lines: string[] = [];
    let runs = 0;
    const scheduler = new Scheduler([{ name: 'token-refresh', everySeconds: 60, ruleName: 'r' }], 'us-east-1', async () => {
      runs++;
      throw new TypeError('detail that may carry data');
    }, (l) => lines.push(l));
    scheduler.start();
    await jest.advanceTimersByTimeAsync(120_000);
    scheduler.stop();
    expect(runs).toBe(2);
    expect(lines).toContain('token-refresh: run failed (TypeError)');
    expect(lines.join('\n')).not.toContain('detail that may carry data');
  });
});
