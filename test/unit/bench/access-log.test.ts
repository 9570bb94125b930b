import { accessLogLineBytes, renderAccessLogLine, WEBHOOK_REQUEST } from '../../../bench/access-log';
import { ACCESS_LOG_FIELDS } from '../../../lib/http-api';

describe('the HTTP API access-log line', () => {
  it('renders every field of the stack’s format with a realistic value, `-` for an absent error', () => {
    const line = JSON.parse(renderAccessLogLine(ACCESS_LOG_FIELDS, WEBHOOK_REQUEST)) as Record<string, string>;
    expect(Object.keys(line)).toEqual(Object.keys(ACCESS_LOG_FIELDS));
    expect(line).toMatchObject({ routeKey: 'POST /drchronowebhook/{teamId}', status: '202', integrationError: '-', time: '1796038602123' });
    expect(Object.values(line).every((v) => !v.startsWith('$context'))).toBe(true);
  });

  it('is 174 bytes for a queued webhook delivery', () => {
    expect(accessLogLineBytes(WEBHOOK_REQUEST)).toBe(174);
  });

  it('refuses a field it has no sample value for, so a new field cannot go unpriced', () => {
    expect(() => accessLogLineBytes(WEBHOOK_REQUEST, { ...ACCESS_LOG_FIELDS, agent: '$context.identity.userAgent' })).toThrow(/userAgent/);
  });
});
