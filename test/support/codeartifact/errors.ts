/**
 * Errors the stand-in answers with. The control plane sends them the restJson1 way
 * (`x-amzn-errortype` header + JSON body with `message` and the shape's other members),
 * which is how the AWS SDK picks the typed exception; the npm endpoint sends `{"error": ...}`.
 * Types and status codes: botocore `codeartifact/2018-09-22/service-2.json` (`"error": {"httpStatusCode": ...}`).
 */

export type ResourceType = 'domain' | 'repository' | 'package' | 'package-version' | 'asset';
export type ValidationReason = 'CANNOT_PARSE' | 'ENCRYPTION_KEY_ERROR' | 'FIELD_VALIDATION_FAILED' | 'UNKNOWN_OPERATION' | 'OTHER';

export class ApiError extends Error {
  readonly status: number;
  readonly type: string;
  /** extra members of the error shape (resourceId, resourceType, reason) */
  readonly fields: Record<string, string>;
  readonly retryAfterSeconds?: number;

  constructor(status: number, type: string, message: string, fields: Record<string, string> = {}, retryAfterSeconds?: number) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.type = type;
    this.fields = fields;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** The error type the service uses for a status, for faults that name only a status. */
export function defaultErrorType(status: number): string {
  switch (status) {
    case 400:
      return 'ValidationException';
    case 401:
      return 'Unauthorized';
    case 402:
      return 'ServiceQuotaExceededException';
    case 403:
      return 'AccessDeniedException';
    case 404:
      return 'ResourceNotFoundException';
    case 409:
      return 'ConflictException';
    case 429:
      return 'ThrottlingException';
    default:
      return status >= 500 ? 'InternalServerException' : 'ValidationException';
  }
}

export const validation = (message: string, reason: ValidationReason = 'FIELD_VALIDATION_FAILED'): ApiError =>
  new ApiError(400, 'ValidationException', message, { reason });

export const notFound = (message: string, resourceType: ResourceType, resourceId: string): ApiError =>
  new ApiError(404, 'ResourceNotFoundException', message, { resourceId, resourceType });

export const conflict = (message: string, resourceType: ResourceType, resourceId: string): ApiError =>
  new ApiError(409, 'ConflictException', message, { resourceId, resourceType });

export const accessDenied = (message: string): ApiError => new ApiError(403, 'AccessDeniedException', message);

export const throttled = (message: string, retryAfterSeconds: number): ApiError =>
  new ApiError(429, 'ThrottlingException', message, {}, retryAfterSeconds);

/** Coerce anything caught into an ApiError; unknown failures become InternalServerException. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new ApiError(500, 'InternalServerException', `stand-in failure: ${message}`);
}

/** ServiceQuotaExceededException (402) carries resourceId/resourceType like ConflictException (model). */
export const serviceQuota = (message: string, resourceType: ResourceType, resourceId: string): ApiError =>
  new ApiError(402, 'ServiceQuotaExceededException', message, { resourceId, resourceType });
