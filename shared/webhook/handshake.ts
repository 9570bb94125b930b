import { createHmac } from 'node:crypto';

/**
 * DrChrono's webhook verification: GET ?msg=... must be answered with 200 `{"secret_token": <hex>}` where
 * <hex> is HMAC-SHA256 keyed by the webhook's secret token over the msg value.
 */
export function handshakeToken(secretToken: string, msg: string): string {
  return createHmac('sha256', secretToken).update(msg, 'utf8').digest('hex');
}
