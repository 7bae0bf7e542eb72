import fs from 'node:fs';

/**
 * CPU time spent by each part of the stack on this machine, read from /proc (Linux): the bench divides
 * it by the completed calls of a row, so a row's table line says where its time goes (the Temporal
 * server, the workers, the API, Postgres, Redis). Elsewhere it is empty and the bench prints no CPU.
 */
export const CPU_ROLES = ['temporal', 'workers', 'api', 'postgres', 'redis'] as const;
export type CpuRole = (typeof CPU_ROLES)[number];
export type CpuSnapshot = Partial<Record<CpuRole, number>>;

const TICKS_PER_SECOND = 100; // USER_HZ, 100 on every Linux the project runs on

function roleOf(cmdline: string): CpuRole | undefined {
  if (/temporal\S* server start-dev/.test(cmdline)) return 'temporal';
  if (cmdline.includes('dist/worker/main.js')) return 'workers';
  if (cmdline.includes('dist/api/main.js')) return 'api';
  if (cmdline.startsWith('postgres')) return 'postgres';
  if (cmdline.startsWith('redis-server')) return 'redis';
  return undefined;
}

/** Seconds of CPU (user + system) so far, per role, over the processes alive now. */
export function cpuSnapshot(): CpuSnapshot {
  const out: CpuSnapshot = {};
  let pids: string[];
  try {
    pids = fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return out;
  }
  for (const pid of pids) {
    try {
      const role = roleOf(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' '));
      if (!role) continue;
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out[role] = (out[role] ?? 0) + (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
    } catch {
      // the process ended meanwhile
    }
  }
  return out;
}

/** CPU milliseconds per completed call between two snapshots (a process that ended is not counted). */
export function cpuMsPer(before: CpuSnapshot, after: CpuSnapshot, completed: number): CpuSnapshot {
  const out: CpuSnapshot = {};
  if (completed === 0) return out;
  for (const role of CPU_ROLES) {
    if (after[role] === undefined) continue;
    out[role] = (Math.max(0, after[role] - (before[role] ?? 0)) * 1000) / completed;
  }
  return out;
}
