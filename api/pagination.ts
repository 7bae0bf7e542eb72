import { decodeCursor } from '../domain/history';
import { ApiError } from './errors';

/** The key after which a page starts: null without a cursor, 400 INVALID_CURSOR for a forged one. */
export function afterKeyOf(cursor: string | undefined): string | null {
  if (cursor === undefined) return null;
  const key = decodeCursor(cursor);
  if (key === null) throw new ApiError('INVALID_CURSOR', 'cursor is not one this API issued');
  return key;
}
