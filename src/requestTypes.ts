// Type checks for values that cross the public API from plain JavaScript, where TypeScript's types promise nothing:
// each turns a wrong type into the caller's typed error (InvalidRequestError for requests and engine options, others
// where the caller says) naming the value, instead of a TypeError from deep inside. One module, so every entry point
// checks the same way and describes values the same way.
import { GptWebGpuError, InvalidRequestError } from './errors.ts';

type ErrorClass = new (message: string) => GptWebGpuError;

/** A value as a message shows it; never throws (Symbols and objects without toString included). */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'symbol') return value.toString();
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'object') return Array.isArray(value) ? 'an array' : 'an object';
  return String(value);
}

/** `value` when it is an object (not null, not an array) or undefined (then `{}`); otherwise `errorClass`. */
export function optionsObject<T extends object>(value: T | undefined, what: string, errorClass: ErrorClass = InvalidRequestError): T {
  if (value === undefined) return {} as T;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new errorClass(`${what} must be an object, got ${describeValue(value)}`);
  return value;
}

/** A callback option: undefined or a function. */
export function optionalFunction<F>(value: F | undefined, name: string, errorClass: ErrorClass = InvalidRequestError): F | undefined {
  if (value !== undefined && typeof value !== 'function') throw new errorClass(`${name} must be a function, got ${describeValue(value)}`);
  return value;
}

/** An AbortSignal option: undefined or something that behaves as one (an AbortSignal from any realm). */
export function optionalSignal(value: AbortSignal | undefined, name = 'signal', errorClass: ErrorClass = InvalidRequestError): AbortSignal | undefined {
  if (value === undefined) return undefined;
  const s = value as unknown as { aborted?: unknown; addEventListener?: unknown } | null;
  if (s === null || typeof s !== 'object' || typeof s.aborted !== 'boolean' || typeof s.addEventListener !== 'function') {
    throw new errorClass(`${name} must be an AbortSignal, got ${describeValue(value)}`);
  }
  return value;
}

/** A required string argument. */
export function requireString(value: unknown, name: string, errorClass: ErrorClass = InvalidRequestError): string {
  if (typeof value !== 'string') throw new errorClass(`${name} must be a string, got ${describeValue(value)}`);
  return value;
}
