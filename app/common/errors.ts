/**
 * Every error a client can see: one class per meaning, each with its HTTP status and a stable
 * code. The errorHandler middleware turns them into `{ code, message }`; anything else is a 500
 * whose details stay in the log.
 */
export class AppError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly field?: string) {
    super(message);
    this.name = new.target.name;
  }
}

export class ValidationError extends AppError {
  constructor(field: string, message: string) {
    super(422, 'VALIDATION_FAILED', message, field);
  }
}

/** A list's cursor that this API did not hand out (GET /payment/orders): 400 INVALID_CURSOR. */
export class InvalidCursorError extends AppError {
  constructor(message = 'cursor is not one this API returned: start again without it') {
    super(400, 'INVALID_CURSOR', message, 'cursor');
  }
}

export class UnauthorizedError extends AppError {
  constructor(code = 'UNAUTHORIZED', message = 'a valid session token is required') {
    super(401, code, message);
  }
}

export class ForbiddenError extends AppError {
  constructor(code = 'FORBIDDEN', message = 'not allowed') {
    super(403, code, message);
  }
}

export class NotFoundError extends AppError {
  constructor(code = 'NOT_FOUND', message = 'not found') {
    super(404, code, message);
  }
}

export class ConflictError extends AppError {
  constructor(code: string, message: string) {
    super(409, code, message);
  }
}

export class PayloadTooLargeError extends AppError {
  constructor(message = 'request body is too large') {
    super(413, 'PAYLOAD_TOO_LARGE', message);
  }
}

export class UnsupportedMediaTypeError extends AppError {
  constructor(message = 'send the body as application/json') {
    super(415, 'UNSUPPORTED_MEDIA_TYPE', message);
  }
}

export class RateLimitedError extends AppError {
  /** retryAfterSeconds becomes the Retry-After header. */
  constructor(readonly retryAfterSeconds?: number, message = 'too many requests, try again later') {
    super(429, 'RATE_LIMITED', message);
  }
}

/** WeChat refused the request for a reason that retrying will not fix (configuration, data). */
export class UpstreamRejectedError extends AppError {
  constructor(code: string, message: string) {
    super(502, code, message);
  }
}

/**
 * Our side failed for good before the request reached WeChat (it could not be built or signed):
 * nothing happened there, and retrying the same request will not help. The message says what.
 */
export class RequestNotSentError extends AppError {
  constructor(code: string, message: string) {
    super(500, code, message);
  }
}

/** A dependency (WeChat, Redis, MySQL) is busy or unreachable: the same request may be retried. */
export class ServiceUnavailableError extends AppError {
  constructor(code: string, message: string) {
    super(503, code, message);
  }
}

/** Redis (sessions, rate-limit counters) could not answer: the client may retry. */
export function sessionStoreUnavailable(): ServiceUnavailableError {
  return new ServiceUnavailableError('SESSION_STORE_UNAVAILABLE', 'session store is unavailable, try again shortly');
}

/**
 * MySQL gave no free connection within the pool's wait (MYSQL_POOL_MAX connections all busy, a
 * burst such as a flash sale): nothing was done, the same request may be retried.
 */
export function databaseBusy(): ServiceUnavailableError {
  return new ServiceUnavailableError('DATABASE_BUSY', 'the service is busy, try again shortly');
}
