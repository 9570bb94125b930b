import { scheduledEvent } from '../../../local/scheduler';

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
