// Naming the target of an error thrown by a step that does not know it (a range check, a kernel).
import {
  QuantizationError,
  type QuantizationErrorCode,
  type QuantizationErrorContext,
} from "./quantization_error.ts";

/**
 * The error `error` with the target's module, target and sub-config: a `QuantizationError`
 * without a location is re-created with the same code, key and detail at `context`; one that
 * already has a location is returned as is; another `RangeError` or `TypeError` (e.g. a kernel's
 * argument check) becomes a `QuantizationError` with code `fallback` and its message as detail;
 * anything else is returned unchanged, for the caller to throw.
 */
export function locateError(
  error: unknown,
  context: QuantizationErrorContext,
  fallback: QuantizationErrorCode,
): unknown {
  if (error instanceof QuantizationError) {
    if (error.module !== undefined || error.path !== undefined) return error;
    return new QuantizationError(error.code, error.detail, {
      ...context,
      ...(error.key === undefined ? {} : { key: error.key }),
      cause: error,
    });
  }
  if (error instanceof RangeError || error instanceof TypeError) {
    return new QuantizationError(fallback, error.message, { ...context, cause: error });
  }
  return error;
}
