import { decodeCursor } from '../domain/history';
import { ApiError } from './errors';

/**
 * The key after which a page starts: null without a cursor. The routes' query schema already holds a
 * cursor to CURSOR_PATTERN (400 VALIDATION_FAILED); INVALID_CURSOR guards a route that forgets it.
 */
export function afterKeyOf(cursor: string | undefined): string | null {
  if (cursor === undefined) return null;
  const key = decodeCursor(cursor);
  if (key === null) throw new ApiError('INVALID_CURSOR', 'cursor is not one this API issued');
  return key;
}
