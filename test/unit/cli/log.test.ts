import { formatEntry } from '../../../cli/commands/log';

describe('log: formatEntry', () => {
  it('shows an outbound entry as outbound with its change id, so an operator can match it to the app\'s change', () => {
    const text = formatEntry({
      at: '2026-11-30T09:00:00.000Z',
      event: 'PATIENT_UPDATE',
      entity: 'patient',
      drchronoId: '501',
      outcome: 'applied',
      direction: 'outbound',
      changeId: '0b6a8f5e-2c4d-4e1f-9a3b-7c8d9e0f1a2b',
      key: 'CH-77',
      fieldsWritten: ['Email'],
    });
    expect(text.split('\n')[0]).toContain('outbound');
    expect(text.split('\n')[0]).toContain('change 0b6a8f5e-2c4d-4e1f-9a3b-7c8d9e0f1a2b');
    // The Chart ID identifies a patient: the text view leaves it to `log --json` (docs/write-back.md).
    expect(text).not.toContain('CH-77');
  });

  it('leaves an inbound entry as it was: no direction, its delivery id', () => {
    const text = formatEntry({ at: '2026-11-30T09:00:00.000Z', event: 'PATIENT_MODIFY', entity: 'patient', drchronoId: '501', outcome: 'applied', deliveryId: 'd-1' });
    expect(text).not.toContain('outbound');
    expect(text).toContain('delivery d-1');
  });
});
