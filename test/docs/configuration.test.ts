import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { ROOT } from './markdown';

/**
 * docs/configuration.md cannot drift from the schema in config/index.ts: every setting of the schema
 * has its row under "Service settings" with the schema's default, and every row there names a setting
 * the schema has. The schema is read from the source (the TypeScript AST of `ConfigSchema`), so a
 * setting another change adds is seen without anything to register.
 */

interface SchemaSetting {
  name: string;
  /** the literal default, as text; undefined for Type.Optional settings and computed defaults */
  default?: string;
}

/** A literal as the docs would write it: numbers and strings as they are, `72 * 3600` evaluated. */
function literal(node: ts.Expression): string | undefined {
  if (ts.isNumericLiteral(node) || ts.isStringLiteral(node)) return node.text;
  if (node.kind === ts.SyntaxKind.TrueKeyword) return 'true';
  if (node.kind === ts.SyntaxKind.FalseKeyword) return 'false';
  if (ts.isBinaryExpression(node) && node.operatorToken.kind === ts.SyntaxKind.AsteriskToken) {
    const [l, r] = [literal(node.left), literal(node.right)];
    if (l !== undefined && r !== undefined && /^\d+$/.test(l) && /^\d+$/.test(r)) return String(Number(l) * Number(r));
  }
  return undefined;
}

/** The settings of `const ConfigSchema = Type.Object({ … })` in config/index.ts. */
function schemaSettings(source: string): SchemaSetting[] {
  const file = ts.createSourceFile('index.ts', source, ts.ScriptTarget.ES2022, true);
  let object: ts.ObjectLiteralExpression | undefined;
  const visit = (node: ts.Node): void => {
    if (ts.isVariableDeclaration(node) && node.name.getText(file) === 'ConfigSchema' && node.initializer) {
      const init = node.initializer;
      if (ts.isCallExpression(init) && init.expression.getText(file) === 'Type.Object') {
        const arg = init.arguments[0];
        if (arg && ts.isObjectLiteralExpression(arg)) object = arg;
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  if (!object) throw new Error('no `const ConfigSchema = Type.Object({ … })` in config/index.ts');
  return object.properties.map((p) => {
    if (!ts.isPropertyAssignment(p)) throw new Error(`unexpected member in ConfigSchema: ${p.getText(file)}`);
    const name = p.name.getText(file).replace(/^['"]|['"]$/g, '');
    let value: string | undefined;
    const call = p.initializer;
    // `Type.X(…, { default: … })`: the options object is one of the call's own arguments
    if (ts.isCallExpression(call) && call.expression.getText(file) !== 'Type.Optional') {
      for (const arg of call.arguments) {
        if (!ts.isObjectLiteralExpression(arg)) continue;
        for (const prop of arg.properties) {
          if (ts.isPropertyAssignment(prop) && prop.name.getText(file) === 'default') value = literal(prop.initializer);
        }
      }
    }
    return { name, default: value };
  });
}

/** A cell's words: `259200 (72 h)` → 259200, 72, h; code spans lose their backticks. */
const words = (cell: string): string[] => cell.replace(/`/g, '').split(/[\s(),;]+/);

interface DocRow {
  name: string;
  defaultCell: string;
}

/** The table rows `| \`NAME\` | default | … |` of one `## ` section of a Markdown page. */
function documentedRows(md: string, section: string): DocRow[] {
  const start = md.indexOf(`\n## ${section}\n`);
  if (start < 0) throw new Error(`no section "## ${section}"`);
  const end = md.indexOf('\n## ', start + 1);
  const text = md.slice(start, end < 0 ? undefined : end);
  // cells may be padded (a formatter aligns the columns)
  const row = /^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|([^|]*)\|/gm;
  return [...text.matchAll(row)].map((m) => ({ name: m[1]!, defaultCell: m[2]!.trim() }));
}

const schema = schemaSettings(fs.readFileSync(path.join(ROOT, 'config/index.ts'), 'utf8'));
const doc = fs.readFileSync(path.join(ROOT, 'docs/configuration.md'), 'utf8');
const rows = documentedRows(doc, 'Service settings');

describe('reading the config schema', () => {
  it('finds names, literal defaults and optional settings', () => {
    const parsed = schemaSettings(`
      const ConfigSchema = Type.Object({
        A: Type.Integer({ minimum: 1, default: 72 * 3600 }),
        B: Type.Union([Type.Literal('x'), Type.Literal('y')], { default: 'y' }),
        C: Type.Optional(Type.String({ default: 'ignored' })),
        D: Type.Boolean({ default: true }),
      });`);
    expect(parsed).toEqual([
      { name: 'A', default: '259200' },
      { name: 'B', default: 'y' },
      { name: 'C', default: undefined },
      { name: 'D', default: 'true' },
    ]);
  });

  it('sees the real schema', () => {
    expect(schema.length).toBeGreaterThan(40);
    expect(schema).toContainEqual({ name: 'DATABASE_URL', default: 'postgres://postgres@127.0.0.1:5432/wallet' });
  });
});

describe('docs/configuration.md', () => {
  it('documents every setting of the schema', () => {
    const documented = new Set(rows.map((r) => r.name));
    expect(schema.map((s) => s.name).filter((n) => !documented.has(n))).toEqual([]);
  });

  it('documents no setting the schema does not have, and each once', () => {
    const known = new Set(schema.map((s) => s.name));
    expect(rows.map((r) => r.name).filter((n) => !known.has(n))).toEqual([]);
    expect(rows.length).toBe(new Set(rows.map((r) => r.name)).size);
  });

  it("gives each setting the schema's default", () => {
    const wrong = schema
      .filter((s) => s.default !== undefined)
      .map((s) => ({ name: s.name, schema: s.default, doc: rows.find((r) => r.name === s.name)?.defaultCell ?? '' }))
      .filter((s) => !words(s.doc).includes(s.schema!));
    expect(wrong).toEqual([]);
  });

  it('names, outside the schema, only variables some script or process reads', () => {
    const sources = [
      'scripts/dev-stack.ts',
      'scripts/dev-stack.sh',
      'scripts/test.sh',
      'scripts/ensure-deps.sh',
      'scripts/temporal-cli.ts',
      'worker/main.ts',
      'test/support/chromium.ts',
      'test/support/histories.ts',
    ]
      .map((f) => fs.readFileSync(path.join(ROOT, f), 'utf8'))
      .join('\n');
    const others = [...documentedRows(doc, '`npm start` only'), ...documentedRows(doc, 'Other variables')].map(
      (r) => r.name,
    );
    expect(others.length).toBeGreaterThan(0);
    expect(others.filter((n) => schema.some((s) => s.name === n))).toEqual([]);
    expect(others.filter((n) => !new RegExp(`\\b${n}\\b`).test(sources))).toEqual([]);
  });
});
