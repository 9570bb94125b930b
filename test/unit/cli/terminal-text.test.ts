import { formatEntry } from '../../../cli/commands/log';
import { formatRecord } from '../../../cli/commands/records';
import { terminalText } from '../../../cli/terminal-text';

describe('terminalText', () => {
  it('keeps printable text of any script as it is', () => {
    expect(terminalText('Appt 7/B é 予約 \u{1F600}')).toBe('Appt 7/B é 予約 \u{1F600}');
  });

  it('escapes control characters, bidi overrides and unpaired surrogates', () => {
    expect(terminalText('a\u001b[31mb\u0007\n\u0085\u202e\uD800')).toBe('a\\x1b[31mb\\x07\\x0a\\x85\\u202e\\ud800');
  });
});

describe('CLI output of DrChrono text', () => {
  it('records: prints a non-numeric appointment id as it is and escapes a control sequence in a value', () => {
    const out = formatRecord({
      entity: 'appointment',
      drchronoId: 'Appt 7/B é',
      deleted: false,
      fields: { Reason: 'x\u001b[2Jy' },
      syncedAt: '2026-11-21T16:00:00.000Z',
      lastDeliveryId: 'd-1',
    } as unknown as Parameters<typeof formatRecord>[0]);
    expect(out).toContain('appointment Appt 7/B é  synced');
    expect(out).toContain('Reason: x\\x1b[2Jy');
    expect(out).not.toContain('\u001b');
  });

  it('log: escapes a control character in an id', () => {
    const line = formatEntry({ at: '2026-11-21T16:00:00.000Z', outcome: 'created', event: 'APPOINTMENT_CREATE', entity: 'appointment', drchronoId: 'A\u0007', deliveryId: 'd-1' } as Parameters<typeof formatEntry>[0]);
    expect(line).toContain('appointment A\\x07');
    expect(line).not.toContain('\u0007');
  });
});
