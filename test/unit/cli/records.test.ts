import { formatRecord } from '../../../cli/commands/records';

describe('records output', () => {
  it('shows the version a write can be based on (--base-version), on its own line after the header', () => {
    const version = 'u#2026-11-30T08:00:00.000000000#1#2026-11-30T08:00:01.000Z';
    const text = formatRecord({ entity: 'patient', drchronoId: '104857613', fields: { 'Chart ID': 'DEMO-0001' }, version, deleted: false, syncedAt: '2026-11-30T08:00:02.000Z', lastDeliveryId: '7' });
    expect(text.split('\n').slice(0, 3)).toEqual(['patient 104857613  synced 2026-11-30T08:00:02.000Z  delivery 7', `version ${version}`, '  Chart ID: DEMO-0001']);
  });
});
