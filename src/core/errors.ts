/**
 * The one error type every surface speaks. `code` is stable and machine-readable (it is the
 * `error.code` of the HTTP error body); `message` says what was wrong and what to do about it.
 */
export type ErrorCode =
  | 'invalid_name'
  | 'invalid_type'
  | 'invalid_alias'
  | 'invalid_reference'
  | 'invalid_path'
  | 'invalid_manifest'
  | 'invalid_request'
  | 'type_mismatch'
  | 'not_found'
  | 'conflict'
  | 'aliased_version'
  | 'digest_mismatch'
  | 'missing_blobs'
  | 'unauthorized'
  | 'forbidden'
  | 'payload_too_large'
  | 'unsupported'
  | 'server_unreachable'
  | 'reference_changed'
  | 'insufficient_storage'
  | 'forbidden_host'
  | 'internal';

const STATUS: Record<ErrorCode, number> = {
  invalid_name: 400,
  invalid_type: 400,
  invalid_alias: 400,
  invalid_reference: 400,
  invalid_path: 400,
  invalid_manifest: 400,
  invalid_request: 400,
  type_mismatch: 409,
  not_found: 404,
  conflict: 409,
  aliased_version: 409,
  digest_mismatch: 422,
  missing_blobs: 409,
  unauthorized: 401,
  forbidden: 403,
  payload_too_large: 413,
  unsupported: 400,
  server_unreachable: 503,
  reference_changed: 409,
  insufficient_storage: 507,
  forbidden_host: 403,
  internal: 500,
};

/** Marks every AmphoraError, so `instanceof` holds across copies of this module (the CLI's two bundles each carry one). */
const BRAND = Symbol.for('amphora.AmphoraError');

export class AmphoraError extends Error {
  readonly code: ErrorCode;
  readonly details?: unknown;
  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(message);
    this.name = 'AmphoraError';
    this.code = code;
    this.details = details;
    Object.defineProperty(this, BRAND, { value: true });
  }
  /** `e instanceof AmphoraError` by brand; subclasses keep the ordinary prototype check. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== AmphoraError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }
  get status(): number {
    return STATUS[this.code];
  }
}

/**
 * The server answered with an error, or could not be reached (W&B's `wandb.errors.CommError`; the
 * Python client raises its CommError in the same places).
 */
export class CommError extends AmphoraError {
  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(code, message, details);
    this.name = 'CommError';
  }
}

/** A file name an artifact does not hold (`getEntry` / `getPath`; Python raises KeyError there). */
export class EntryNotFoundError extends AmphoraError {
  constructor(message: string, details?: unknown) {
    super('not_found', message, details);
    this.name = 'EntryNotFoundError';
  }
}

export function httpStatusOf(code: ErrorCode): number {
  return STATUS[code];
}

export function isAmphoraError(e: unknown): e is AmphoraError {
  return e instanceof AmphoraError;
}
