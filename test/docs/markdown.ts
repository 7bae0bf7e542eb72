import fs from 'node:fs';
import path from 'node:path';

/**
 * Just enough Markdown for the documentation tests: headings, explicit anchors and inline links,
 * with fenced code blocks and inline code left out (a `[x](y)` inside code is an example, not a link).
 */

export const ROOT = path.resolve(__dirname, '../..');

export interface Link {
  /** the file the link is in, relative to the repository root */
  file: string;
  line: number;
  target: string;
}

/** The lines outside fenced code blocks, with their 1-based numbers. */
function proseLines(md: string): { text: string; line: number }[] {
  const out: { text: string; line: number }[] = [];
  let fence: string | null = null;
  md.split('\n').forEach((text, i) => {
    const opener = /^\s*(`{3,}|~{3,})/.exec(text);
    if (fence !== null) {
      if (opener && opener[1]!.startsWith(fence)) fence = null;
      return;
    }
    if (opener) {
      fence = opener[1]!;
      return;
    }
    out.push({ text, line: i + 1 });
  });
  return out;
}

const withoutInlineCode = (text: string): string => text.replace(/(`+)(?:(?!\1).)+?\1/g, '');

/**
 * The anchor GitHub generates for a heading (github-slugger): the text as rendered, lower-cased, with
 * everything but letters, digits, spaces, hyphens and underscores dropped, spaces turned into hyphens.
 */
export function slug(heading: string): string {
  const rendered = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // links and images: their text
    .replace(/<[^>]+>/g, '') // inline HTML
    .replace(/`/g, '')
    .replace(/(\*\*|__|\*|_)(.+?)\1/g, '$2'); // emphasis
  return rendered
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** Every anchor a page offers: heading slugs (duplicates numbered -1, -2, … as GitHub does) and <a id|name>. */
export function anchors(md: string): Set<string> {
  const found = new Set<string>();
  const seen = new Map<string, number>();
  for (const { text } of proseLines(md)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(text);
    if (heading) {
      const base = slug(heading[1]!);
      const n = seen.get(base) ?? 0;
      seen.set(base, n + 1);
      found.add(n === 0 ? base : `${base}-${n}`);
    }
    for (const m of text.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) found.add(m[1]!);
  }
  return found;
}

/** Inline links and images `[text](target "title")`, outside code. */
export function links(md: string, file: string): Link[] {
  const out: Link[] = [];
  for (const { text, line } of proseLines(md)) {
    for (const m of withoutInlineCode(text).matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      out.push({ file, line, target: m[1]! });
    }
  }
  return out;
}

const isExternal = (target: string): boolean => /^[a-z][a-z0-9+.-]*:/i.test(target);

/**
 * The links of `file` (relative to `root`) that do not resolve: a relative path that does not exist,
 * or an #anchor that the target Markdown file (or the file itself) does not offer.
 */
export function brokenLinks(file: string, root = ROOT): string[] {
  const md = fs.readFileSync(path.join(root, file), 'utf8');
  const broken: string[] = [];
  for (const link of links(md, file)) {
    if (isExternal(link.target)) continue;
    const [rawPath, anchor] = link.target.split('#', 2) as [string, string | undefined];
    const target =
      rawPath === '' ? path.join(root, file) : path.resolve(path.dirname(path.join(root, file)), decodeURI(rawPath));
    const where = `${file}:${link.line} → ${link.target}`;
    if (!target.startsWith(root) || !fs.existsSync(target)) {
      broken.push(`${where}: no such file`);
      continue;
    }
    if (anchor === undefined || anchor === '') continue;
    if (!target.endsWith('.md') || fs.statSync(target).isDirectory()) {
      broken.push(`${where}: an anchor into a file that is not Markdown`);
      continue;
    }
    if (!anchors(fs.readFileSync(target, 'utf8')).has(decodeURIComponent(anchor))) {
      broken.push(`${where}: no heading or <a id> "${anchor}" in ${path.relative(root, target)}`);
    }
  }
  return broken;
}

/** The documentation pages the tests cover: the README, infra/README.md and every page of docs/. */
export function documentationFiles(root = ROOT): string[] {
  const docs = fs
    .readdirSync(path.join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`);
  return ['README.md', 'infra/README.md', ...docs];
}
