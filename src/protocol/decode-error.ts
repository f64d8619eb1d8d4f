/**
 * The one error a decoder may throw. A truncated, lying or otherwise malformed buffer always ends
 * here, never in a RangeError from Buffer or in an allocation sized by untrusted input.
 */
export class DecodeError extends Error {
  override readonly name = 'DecodeError';
  constructor(message: string) {
    super(message);
  }
}
