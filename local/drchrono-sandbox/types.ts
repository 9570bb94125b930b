/** State of the DrChrono sandbox. Everything here is JSON-serialisable so it can persist to `statePath`. */

export type Json = Record<string, unknown>;

export interface SandboxData {
  doctors: Json[];
  users: Json[];
  profiles: Json[];
  flagTypes: Json[];
  patients: Json[];
  appointments: Json[];
  /** `/api/offices`; absent in state files written before offices were modelled (then: none). */
  offices?: Json[];
  nextPatientId: number;
  nextAppointmentId: number;
}

export type SignatureMode = 'token' | 'hmac-sha256';

export interface WebhookConfig {
  callbackUrl: string | null;
  secretToken: string;
  events: string[];
  /** Delivery on/off ("Active" in DrChrono's UI). */
  active: boolean;
  /** DrChrono documents the header as the secret token itself; 'hmac-sha256' sends hex HMAC(secret, body) instead. */
  signatureMode: SignatureMode;
  /** Send `object` as the verbose serializer renders it (default true; DrChrono does not document which). */
  verboseObjects: boolean;
  /** The callback URL that last passed the GET ?msg= handshake. */
  verifiedUrl: string | null;
}

export interface DeliveryQuirks {
  /** The next N deliveries are sent twice. */
  duplicateNext: number;
  /** Every delivery waits this long before it is sent. */
  delayMs: number;
  /** While holding, new deliveries queue until released (released in reverse order to reorder). */
  holding: boolean;
}

export interface SandboxApp {
  clientId: string;
  clientSecret: string;
  /** Allowed redirect URIs; empty allows any http(s) loopback URI (127.0.0.1 / localhost). */
  redirectUris: string[];
  rotateRefreshTokens: boolean;
  /** When true the token endpoint answers invalid_client whatever the credentials. */
  invalidClient: boolean;
  latencyMs: number;
  hourlyBudget: number;
  /** DrChrono documents no Retry-After; turn on to exercise header handling. */
  sendRetryAfter: boolean;
  /** The user who "clicks Approve" unless the approval names another. */
  defaultUserId: number;
  webhook: WebhookConfig;
  quirks: DeliveryQuirks;
}

export interface Grant {
  code: string;
  clientId: string;
  redirectUri: string;
  scope: string;
  userId: number;
  expiresAt: number;
  used: boolean;
}

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  clientId: string;
  userId: number;
  scope: string;
  accessExpiresAt: number;
  accessValid: boolean;
  refreshValid: boolean;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed' | 'held' | 'disabled';

export interface DeliveryAttempt {
  at: number;
  kind: 'initial' | 'retry' | 'redelivery' | 'duplicate';
  status?: number;
  error?: string;
  ok: boolean;
}

export interface Delivery {
  id: string;
  clientId: string;
  event: string;
  objectType: 'patient' | 'appointment' | 'patient_flag' | 'ping';
  objectId: string;
  /** The exact JSON body, frozen at event time. */
  body: string;
  createdAt: number;
  status: DeliveryStatus;
  attempts: DeliveryAttempt[];
  /** Scheduled retries still to run, as absolute sandbox times. */
  retryAt: number[];
}

export type FaultKind = '500' | '502' | '503' | 'timeout' | 'reset' | '429' | '401';

export interface Fault {
  id: number;
  /** Matches when the request path starts with this. */
  path: string;
  method?: string;
  kind: FaultKind;
  remaining: number;
  /** For 429: the wait quoted in the body; also sent as Retry-After when `retryAfterHeader`. */
  retryAfterSeconds?: number;
  retryAfterHeader?: boolean;
}

export interface RateCounter {
  hour: string;
  calls: number;
  throttled: number;
  total: number;
  byPath: Record<string, number>;
}

export interface SandboxState {
  /** The default practice: the control API, webhooks and the default app's user all act on it. */
  data: SandboxData;
  /** Further practices (own practice group, users, doctors, patients), readable through the API by their users. */
  practices?: SandboxData[];
  apps: Record<string, SandboxApp>;
  grants: Record<string, Grant>;
  tokens: TokenPair[];
  deliveries: Delivery[];
  nextDeliveryId: number;
  counters: Record<string, RateCounter>;
  clockOffsetMs: number;
}
