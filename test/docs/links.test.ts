import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { ROOT, anchors, brokenLinks, documentationFiles, slug } from './markdown';

/**
 * The documentation's links resolve: every relative link and #anchor in README.md, infra/README.md and
 * docs/*.md; every alert's runbook_url (an anchor of docs/runbooks.md, one per alert); and every
 * "§n" a code comment cites from the architecture document.
 */

const read = (rel: string): string => fs.readFileSync(path.join(ROOT, rel), 'utf8');

/** Where alert links point: the repository's docs/runbooks.md on GitHub (the host is a placeholder). */
const RUNBOOKS_URL = 'https://github.com/example/wallet-transfers/blob/main/docs/runbooks.md';

describe('the link checker', () => {
  it('computes the anchors GitHub generates for headings', () => {
    expect(slug('Reliability: `npm run chaos`')).toBe('reliability-npm-run-chaos');
    expect(slug("The dev server's SQLite")).toBe('the-dev-servers-sqlite');
    expect(slug('4.1 Steps and compensations')).toBe('41-steps-and-compensations');
    expect(slug('Running it locally: `npm start`')).toBe('running-it-locally-npm-start');
    expect([...anchors('# A\n## B\n## B\n```\n# not a heading\n```\n<a id="s1"></a>\n')]).toEqual([
      'a',
      'b',
      'b-1',
      's1',
    ]);
  });

  it('reports a missing file and a missing anchor, and ignores links inside code', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'doc-links-'));
    try {
      fs.writeFileSync(path.join(dir, 'other.md'), '# Other\n\n## Present\n');
      fs.writeFileSync(
        path.join(dir, 'page.md'),
        [
          '# Page',
          '[ok](other.md#present) [self](#page) [web](https://example.com/x#y)',
          '[gone](missing.md) [bad anchor](other.md#absent) [bad self](#nowhere)',
          '`[in code](missing.md)`',
          '```',
          '[in a block](missing.md)',
          '```',
        ].join('\n'),
      );
      expect(brokenLinks('page.md', dir)).toEqual([
        'page.md:3 → missing.md: no such file',
        'page.md:3 → other.md#absent: no heading or <a id> "absent" in other.md',
        'page.md:3 → #nowhere: no heading or <a id> "nowhere" in page.md',
      ]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('documentation links', () => {
  it('covers the README and every page of docs/', () => {
    expect(documentationFiles()).toEqual(
      expect.arrayContaining(['README.md', 'docs/architecture.md', 'docs/runbooks.md']),
    );
  });

  it.each(documentationFiles())('%s: every relative link and anchor resolves', (file) => {
    expect(brokenLinks(file)).toEqual([]);
  });
});

describe('alert runbooks', () => {
  const alerts = (
    parse(read('infra/prometheus/alerts.yml')) as {
      groups: { rules: { alert?: string; annotations?: Record<string, string> }[] }[];
    }
  ).groups
    .flatMap((g) => g.rules)
    .filter((r): r is { alert: string; annotations?: Record<string, string> } => typeof r.alert === 'string');
  const runbookAnchors = anchors(read('docs/runbooks.md'));

  it('exist', () => {
    expect(alerts.length).toBeGreaterThan(0);
  });

  it.each(alerts.map((a) => [a.alert, a.annotations?.runbook_url ?? '(none)']))(
    '%s: runbook_url %s is its own section of docs/runbooks.md',
    (alert, url) => {
      expect(url).toBe(`${RUNBOOKS_URL}#${alert.toLowerCase()}`);
      expect(runbookAnchors).toContain(alert.toLowerCase());
    },
  );

  it('docs/runbooks.md has a section for each alert and none for an alert that does not exist', () => {
    const sections = [...read('docs/runbooks.md').matchAll(/^## (.+)$/gm)].map((m) => m[1]);
    expect(sections.sort()).toEqual(alerts.map((a) => a.alert).sort());
  });
});

describe('architecture sections cited in code', () => {
  const SOURCE_DIRS = [
    'activities',
    'api',
    'config',
    'db',
    'domain',
    'observability',
    'scripts',
    'test',
    'worker',
    'workflows',
  ];
  const sources = (dir: string): string[] =>
    fs
      .readdirSync(path.join(ROOT, dir), { withFileTypes: true })
      .flatMap((e) =>
        e.isDirectory() ? sources(path.join(dir, e.name)) : /\.(ts|sh)$/.test(e.name) ? [path.join(dir, e.name)] : [],
      );
  const architecture = anchors(read('docs/architecture.md'));
  /** "docs/architecture.md §4", "docs/architecture.md §4.2", a range "§4–5" */
  const CITATION = /(?:DESIGN|docs\/architecture\.md) §(\d+(?:\.\d+)?)(?:[–-](\d+(?:\.\d+)?))?/g;

  it('every "docs/architecture.md §n" or "docs/architecture.md §n" names a section with its anchor', () => {
    const missing: string[] = [];
    let cited = 0;
    for (const file of SOURCE_DIRS.flatMap(sources)) {
      for (const m of read(file).matchAll(CITATION)) {
        for (const section of [m[1], m[2]].filter((s): s is string => s !== undefined)) {
          cited += 1;
          const id = `s${section.replace('.', '-')}`;
          if (!architecture.has(id)) missing.push(`${file}: §${section} (no <a id="${id}"> in docs/architecture.md)`);
        }
      }
    }
    expect(cited).toBeGreaterThan(0);
    expect(missing).toEqual([]);
  });
});
