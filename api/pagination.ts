import { decodeCursor, decodeIdCursor, decodeRowCursor, type IdKey, type RowKey } from '../domain/history';
import { ApiError } from './errors';

/**
 * The key after which a page starts: null without a cursor. The routes' query schema already holds a
 * cursor to its pattern (400 VALIDATION_FAILED); INVALID_CURSOR guards a route that forgets it.
 */
function afterOf<K>(cursor: string | undefined, decode: (cursor: string) => K | null): K | null {
  if (cursor === undefined) return null;
  const key = decode(cursor);
  if (key === null) throw new ApiError('INVALID_CURSOR', 'cursor is not one this API issued');
  return key;
}

/** A list kept in one database (CURSOR_PATTERN). */
export const afterKeyOf = (cursor: string | undefined): string | null => afterOf(cursor, decodeCursor);
/** A list merged across databases whose rows have UUIDs: transfers, wallets (ID_CURSOR_PATTERN). */
export const afterIdKeyOf = (cursor: string | undefined): IdKey | null => afterOf(cursor, decodeIdCursor);
/** The audit trail, merged across databases (ROW_CURSOR_PATTERN). */
export const afterRowKeyOf = (cursor: string | undefined): RowKey | null => afterOf(cursor, decodeRowCursor);
