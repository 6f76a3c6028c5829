/**
 * Errors the product raises on purpose. Each carries a code from one closed set; the GraphQL edge maps
 * these to `extensions.code` and masks everything else as "Unexpected error".
 */
export const ERROR_CODES = [
  'BAD_USER_INPUT',
  'NOT_FOUND',
  'FORBIDDEN',
  'UNAUTHENTICATED',
  'LIMIT_EXCEEDED',
  'CONFLICT',
  'INTERNAL_SERVER_ERROR',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** An error whose message is safe to show a client: it names the field or value at fault, never a key, SQL or stack. */
export class AppError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AppError';
    this.code = code;
  }
}

export class BadInputError extends AppError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('BAD_USER_INPUT', message, options);
    this.name = 'BadInputError';
  }
}

export class NotFoundError extends AppError {
  constructor(message: string) {
    super('NOT_FOUND', message);
    this.name = 'NotFoundError';
  }
}

export class LimitExceededError extends AppError {
  constructor(message: string) {
    super('LIMIT_EXCEEDED', message);
    this.name = 'LimitExceededError';
  }
}

export class ConflictError extends AppError {
  constructor(message: string) {
    super('CONFLICT', message);
    this.name = 'ConflictError';
  }
}

/** A bad configuration value found at start-up; the message names the variable. Never sent to clients. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** A dataset definition file that does not validate; the message names the file and the field. */
export class DefinitionError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DefinitionError';
  }
}

/** A whole source object could not be ingested (unreadable, truncated gzip, over the size limit, incompatible schema). */
export class IngestError extends Error {
  readonly reason: string;
  constructor(reason: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'IngestError';
    this.reason = reason;
  }
}

/** Exhaustive switch helper: the compiler proves the default branch unreachable. */
export class UnreachableCaseError extends Error {
  constructor(value: never) {
    super(`Unreachable case: ${JSON.stringify(value)}`);
    this.name = 'UnreachableCaseError';
  }
}

/**
 * An error's message with its causes, for logs only (never for clients): `the export result could not be stored
 * (cause: ENOSPC: no space left on device, write)`. A wrapped error's own message says what failed, its cause why.
 */
export function describeError(err: unknown): string {
  const cause = err instanceof Error && err.cause !== undefined ? ` (cause: ${describeError(err.cause)})` : '';
  return `${err instanceof Error ? err.message : String(err)}${cause}`;
}
