/**
 * Typed failures of DrChrono calls. Messages name the method, the path template and the status only:
 * never a response body, a query string (it can hold PHI such as names or birth dates) or a token.
 */
export interface DrChronoErrorDetails {
  method?: string;
  /** Path template such as `/api/patients/{id}`, never the concrete URL. */
  path?: string;
  status?: number;
}

export class DrChronoError extends Error {
  readonly method?: string;
  readonly path?: string;
  readonly status?: number;
  /** True when repeating the same call later may succeed. */
  readonly retryable: boolean = false;

  constructor(message: string, details: DrChronoErrorDetails = {}) {
    super(message);
    this.name = 'DrChronoError';
    this.method = details.method;
    this.path = details.path;
    this.status = details.status;
  }
}

function describe(what: string, d: DrChronoErrorDetails): string {
  const call = d.method && d.path ? `${d.method} ${d.path}` : 'DrChrono call';
  return d.status !== undefined ? `${call}: ${what} (HTTP ${d.status})` : `${call}: ${what}`;
}

/** 401: the access token is invalid, expired or superseded by a refresh. */
export class DrChronoUnauthorizedError extends DrChronoError {
  constructor(details: DrChronoErrorDetails = {}) {
    super(describe('access token invalid or expired', details), { ...details, status: details.status ?? 401 });
    this.name = 'DrChronoUnauthorizedError';
  }
}

/** 403: the token lacks a scope, or the user lacks a permission (e.g. manage-patients). */
export class DrChronoForbiddenError extends DrChronoError {
  constructor(details: DrChronoErrorDetails = {}) {
    super(describe('missing scope or permission', details), { ...details, status: details.status ?? 403 });
    this.name = 'DrChronoForbiddenError';
  }
}

export class DrChronoNotFoundError extends DrChronoError {
  constructor(details: DrChronoErrorDetails = {}) {
    super(describe('not found', details), { ...details, status: details.status ?? 404 });
    this.name = 'DrChronoNotFoundError';
  }
}

/** 429: the app's hourly budget at DrChrono is spent; `retryAfterSeconds` says when to come back. */
export class DrChronoRateLimitedError extends DrChronoError {
  readonly retryAfterSeconds: number;
  override readonly retryable = true;
  constructor(retryAfterSeconds: number, details: DrChronoErrorDetails = {}) {
    super(describe(`rate limited, retry after ${retryAfterSeconds}s`, details), { ...details, status: details.status ?? 429 });
    this.name = 'DrChronoRateLimitedError';
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** 5xx after the client's own bounded retries. */
export class DrChronoServerError extends DrChronoError {
  override readonly retryable = true;
  constructor(details: DrChronoErrorDetails = {}) {
    super(describe('server error', details), details);
    this.name = 'DrChronoServerError';
  }
}

/** Timeout, refused or reset connection after the client's own bounded retries. */
export class DrChronoNetworkError extends DrChronoError {
  override readonly retryable = true;
  /** Node error code (ETIMEDOUT, ECONNREFUSED, ...): safe to log, carries no data. */
  readonly code?: string;
  constructor(code: string | undefined, details: DrChronoErrorDetails = {}) {
    super(describe(`network failure${code ? ` (${code})` : ''}`, details), details);
    this.name = 'DrChronoNetworkError';
    this.code = code;
  }
}

/** A 2xx answer whose body does not match the schema we map (field paths only, never values). */
export class DrChronoResponseValidationError extends DrChronoError {
  readonly issues: string[];
  constructor(issues: string[], details: DrChronoErrorDetails = {}) {
    super(describe(`unexpected response shape at ${issues.slice(0, 5).join(', ')}`, details), details);
    this.name = 'DrChronoResponseValidationError';
    this.issues = issues;
  }
}

/** Token endpoint `invalid_grant`: the code or refresh token is dead (used, expired, revoked, re-authorised). */
export class InvalidGrantError extends DrChronoError {
  constructor(details: DrChronoErrorDetails = {}) {
    super(describe('invalid_grant', details), details);
    this.name = 'InvalidGrantError';
  }
}

/** Token endpoint `invalid_client`: the client id or secret is wrong. */
export class InvalidClientError extends DrChronoError {
  constructor(details: DrChronoErrorDetails = {}) {
    super(describe('invalid_client', details), details);
    this.name = 'InvalidClientError';
  }
}

/** Thrown by a budget hook (`beforeCall`) when the team's own hourly API budget is spent; no call was made. */
export class ApiBudgetExhaustedError extends DrChronoError {
  readonly resetAt: Date;
  constructor(resetAt: Date, details: DrChronoErrorDetails = {}) {
    super(describe(`API budget exhausted until ${resetAt.toISOString()}`, details), details);
    this.name = 'ApiBudgetExhaustedError';
    this.resetAt = resetAt;
  }
}

// ---- Write errors (write-back, docs/write-back.md) ----

/**
 * 400 on a write: DrChrono (Django REST framework) refused the body. `fieldErrors` holds its messages by DrChrono
 * field name (`non_field_errors` and `detail` as they come). DRF messages can quote the refused value ("“x” is not a
 * valid choice."), so quoted text is redacted before it is kept; the message names the call only.
 */
export class DrChronoValidationError extends DrChronoError {
  readonly fieldErrors: Record<string, string[]>;
  constructor(fieldErrors: Record<string, string[]>, details: DrChronoErrorDetails = {}) {
    const fields = Object.keys(fieldErrors).slice(0, 10).join(', ');
    super(describe(`refused${fields ? ` (fields: ${fields})` : ''}`, details), { ...details, status: details.status ?? 400 });
    this.name = 'DrChronoValidationError';
    this.fieldErrors = fieldErrors;
  }
}

/** 409 on a write: an appointment overlaps another of the same doctor (DrChrono's `allow_overlapping` not set). */
export class DrChronoConflictError extends DrChronoError {
  constructor(details: DrChronoErrorDetails = {}) {
    super(describe('conflicts with an existing object (overlap)', details), { ...details, status: details.status ?? 409 });
    this.name = 'DrChronoConflictError';
  }
}

const MAX_FIELD_ERRORS = 50;
const MAX_FIELD_MESSAGE_CHARS = 200;
const QUOTED = /“[^”]*”|"[^"]*"|'[^']*'|«[^»]*»/g;

/** A DRF error message with quoted values replaced by "…", capped. */
export function redactFieldMessage(message: string): string {
  return message.replace(QUOTED, '"…"').slice(0, MAX_FIELD_MESSAGE_CHARS);
}

/**
 * DRF's 400 body → messages by field: `{"gender": ["This field is required."]}`, nested serializer errors
 * (`{"primary_insurance": {"insurance_company": [...]}}` → `primary_insurance.insurance_company`), a bare string
 * or list (`non_field_errors`). Anything else: no field errors (the error still says HTTP 400).
 */
export function parseFieldErrors(body: unknown): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const walk = (value: unknown, path: string): void => {
    if (Object.keys(out).length >= MAX_FIELD_ERRORS) return;
    if (typeof value === 'string') (out[path || 'non_field_errors'] ??= []).push(redactFieldMessage(value));
    else if (Array.isArray(value)) for (const v of value.slice(0, 10)) walk(v, path);
    else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) walk(v, path ? `${path}.${k}` : k);
  };
  // A non-JSON body (an HTML error page) is not DrChrono's field report: ignored.
  if (body && typeof body === 'object') walk(body, '');
  return out;
}
