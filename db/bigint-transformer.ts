import type { ValueTransformer } from 'typeorm';

/** Postgres int8 arrives from `pg` as a decimal string; money is bigint in TypeScript (DESIGN §3). */
export const bigintTransformer: ValueTransformer = {
  to: (value: bigint | null | undefined) => (value === null || value === undefined ? value : value.toString()),
  from: (value: string | null) => (value === null ? null : BigInt(value)),
};
