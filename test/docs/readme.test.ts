import fs from 'node:fs';
import path from 'node:path';
import { ROOT, links } from './markdown';

/**
 * README.md is the front door: small, its quick start true to the scripts it describes, and a link to
 * every page of docs/ (the rest of the documentation lives there).
 */

const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const quickStart = readme.slice(
  readme.indexOf('## Quick start'),
  readme.indexOf('\n## ', readme.indexOf('## Quick start') + 1),
);

describe('README.md', () => {
  it('is at most 12 KB', () => {
    expect(Buffer.byteLength(readme)).toBeLessThanOrEqual(12 * 1024);
  });

  it('links to every page of docs/', () => {
    const targets = new Set(links(readme, 'README.md').map((l) => l.target.split('#')[0]));
    const pages = fs
      .readdirSync(path.join(ROOT, 'docs'))
      .filter((f) => f.endsWith('.md') && f !== 'README.md')
      .map((f) => `docs/${f}`);
    expect(pages.filter((p) => !targets.has(p))).toEqual([]);
  });

  it('names the two quick-start commands and every step `npm test` prints', () => {
    expect(quickStart).toContain('npm start');
    expect(quickStart).toContain('npm test');
    const steps = [...fs.readFileSync(path.join(ROOT, 'scripts/test.sh'), 'utf8').matchAll(/^\s*step (\S+) /gm)].map(
      (m) => m[1]!,
    );
    expect(steps.length).toBeGreaterThan(0);
    expect(steps.filter((s) => !quickStart.includes(`\`${s}\``))).toEqual([]);
  });

  it('shows the ready line `npm start` prints', () => {
    const devStack = fs.readFileSync(path.join(ROOT, 'scripts/dev-stack.ts'), 'utf8');
    // the template of the last line the launcher prints, e.g. `ready: ${workers} worker process(es) on …`
    const template = /log\(`(ready: [^`]+)`\)/.exec(devStack)?.[1];
    expect(template).toBeDefined();
    const expected = template!.replace('${workers}', '2').replace('${config.TEMPORAL_TASK_QUEUE}', 'wallet-transfers');
    expect(quickStart).toContain(`[dev-stack] ${expected}`);
  });
});
