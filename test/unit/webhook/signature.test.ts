import { createHmac } from 'node:crypto';
import { isAcceptedDeliverySignature, isValidDeliverySignature } from '../../../shared/webhook/signature';

// The module object signature.ts calls through (a namespace import would be a copy that a spy cannot reach).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const nodeCrypto = require('node:crypto') as { createHmac: typeof createHmac };
const token = 'a3f1c0de9b8e7d6c5b4a39281706f5e4d3c2b1a0';
const body = Buffer.from('{"receiver":{"id":1},"object":{"id":42}}');
const hmacHex = (key: string, data: Buffer) => createHmac('sha256', key).update(data).digest('hex');

describe('isValidDeliverySignature', () => {
  it('accepts the raw secret token, as DrChrono documents the header', () => {
    expect(isValidDeliverySignature(token, token, body)).toBe(true);
  });

  it('accepts a hex HMAC-SHA256 of the raw body keyed by the token', () => {
    expect(isValidDeliverySignature(hmacHex(token, body), token, body)).toBe(true);
  });

  it('accepts the HMAC in upper-case hex', () => {
    expect(isValidDeliverySignature(hmacHex(token, body).toUpperCase(), token, body)).toBe(true);
  });

  it('rejects a missing header', () => {
    expect(isValidDeliverySignature(undefined, token, body)).toBe(false);
  });

  it('rejects an empty header', () => {
    expect(isValidDeliverySignature('', token, body)).toBe(false);
  });

  it('rejects a different token', () => {
    expect(isValidDeliverySignature('b'.repeat(40), token, body)).toBe(false);
  });

  it('rejects a prefix of the token', () => {
    expect(isValidDeliverySignature(token.slice(0, 39), token, body)).toBe(false);
  });

  it('rejects an HMAC computed over a different body', () => {
    expect(isValidDeliverySignature(hmacHex(token, Buffer.from('{}')), token, body)).toBe(false);
  });

  it('rejects an HMAC keyed by a different token', () => {
    expect(isValidDeliverySignature(hmacHex('other-token', body), token, body)).toBe(false);
  });

  it('rejects an empty header when the stored token is empty', () => {
    expect(isValidDeliverySignature('', '', body)).toBe(false);
  });
});

describe('isAcceptedDeliverySignature', () => {
  const body = Buffer.from('{"receiver":{},"object":{"id":1}}');
  const NOW = Date.parse('2026-11-30T12:00:00.000Z');
  const tokens = ['current-token-aaaaaaaaaaaaaaaaaaaa', 'previous-token-bbbbbbbbbbbbbbbbbbb'];
  const secret = { webhookSecret: tokens[0]!, previousWebhookSecrets: [{ token: tokens[1]!, acceptedUntil: NOW + 1 }] };

  it('accepts the current token and a previous one in its overlap, as the token itself or as the HMAC of the body', () => {
    for (const t of tokens) {
      expect(isAcceptedDeliverySignature(t, secret, NOW, body)).toBe(true);
      expect(isAcceptedDeliverySignature(createHmac('sha256', t).update(body).digest('hex').toUpperCase(), secret, NOW, body)).toBe(true);
    }
  });

  it('refuses a token that is not the secret\'s, and a previous token once its overlap has ended', () => {
    expect(isAcceptedDeliverySignature('retired-token-ccccccccccccccccccc', secret, NOW, body)).toBe(false);
    expect(isAcceptedDeliverySignature(tokens[1], secret, NOW + 1, body)).toBe(false);
    expect(isAcceptedDeliverySignature(hmacHex(tokens[1]!, body), secret, NOW + 1, body)).toBe(false);
    expect(isAcceptedDeliverySignature(tokens[0], { webhookSecret: '' }, NOW, body)).toBe(false);
  });

  it('checks the tokens the secret object holds now, when the same object was changed in place', () => {
    const mutable = { webhookSecret: 'first-token-dddddddddddddddddddddd' };
    expect(isAcceptedDeliverySignature('first-token-dddddddddddddddddddddd', mutable, NOW, body)).toBe(true);
    mutable.webhookSecret = 'second-token-eeeeeeeeeeeeeeeeeeeee';
    expect(isAcceptedDeliverySignature('first-token-dddddddddddddddddddddd', mutable, NOW, body)).toBe(false);
    expect(isAcceptedDeliverySignature('second-token-eeeeeeeeeeeeeeeeeeeee', mutable, NOW, body)).toBe(true);
  });

  it('computes the body HMAC only for a header shaped like one (64 hex digits), once per token, whatever matches', () => {
    const spy = jest.spyOn(nodeCrypto, 'createHmac');
    try {
      expect(isAcceptedDeliverySignature(tokens[0], secret, NOW, body)).toBe(true);
      expect(isAcceptedDeliverySignature('forged', secret, NOW, body)).toBe(false);
      expect(spy).not.toHaveBeenCalled();
      expect(isAcceptedDeliverySignature(` ${hmacHex(tokens[1]!, body)} `, secret, NOW, body)).toBe(true);
      expect(isAcceptedDeliverySignature('f'.repeat(64), secret, NOW, body)).toBe(false);
      expect(spy).toHaveBeenCalledTimes(2 * tokens.length + 1);
    } finally {
      spy.mockRestore();
    }
  });
});
