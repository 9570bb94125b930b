import { createHmac } from 'node:crypto';
import { handshakeToken } from '../../../shared/webhook/handshake';

describe('handshakeToken', () => {
  it('is the hex HMAC-SHA256 of msg keyed by the secret token', () => {
    const expected = createHmac('sha256', 'secret-token').update('challenge-123').digest('hex');
    expect(handshakeToken('secret-token', 'challenge-123')).toBe(expected);
  });

  it('matches a known test vector (RFC 4231 case 2)', () => {
    expect(handshakeToken('Jefe', 'what do ya want for nothing?')).toBe(
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
  });

  it('differs when the token differs', () => {
    expect(handshakeToken('token-a', 'msg')).not.toBe(handshakeToken('token-b', 'msg'));
  });

  it('hashes non-ASCII msg values as UTF-8', () => {
    const expected = createHmac('sha256', 'k').update(Buffer.from('é', 'utf8')).digest('hex');
    expect(handshakeToken('k', 'é')).toBe(expected);
  });
});
