// @ts-check
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/**
 * Domain modules free of database and Node APIs, which the workflow sandbox may load (as paths from
 * workflows/, which is one flat folder). A module joins this list only while it imports nothing but
 * other modules of the list.
 */
const PURE_DOMAIN_MODULES = [
  'currencies',
  'errors',
  'money',
  'transfer-status',
  'reconciliation/results',
  'shards',
  'transfers/refusals',
  'transfers/transfer',
];

/** What workflows/ may import at run time (regular expressions, matched against the whole import path). */
const WORKFLOW_IMPORTS = [
  '@temporalio/workflow',
  '@temporalio/common',
  // its own folder: the workflows and their contract
  '\\./[^/]+',
  `\\.\\./domain/(?:${PURE_DOMAIN_MODULES.join('|')})`,
  // type-only, checked by the next pattern
  '\\.\\./activities(?:/[^/]+)?',
];

/** db/ modules that write SQL or open connections beside the Store: for db/ and domain/ only (and the migrations' scripts). */
const DB_INTERNALS = '(?:^|/)db/(?:sql|data-source|migrate|migrations|entities)(?:/.*)?$';
/** The Store: created by the processes' wiring (api/plugins/db.ts, worker/deps.ts), named as a type elsewhere. */
const DB_STORE = '(?:^|/)db/store$';
/** SQL text in a string or template literal (a statement's leading keywords). */
const SQL_TEXT = ['Literal', 'TemplateElement'].map(
  (node) =>
    `${node}[${node === 'Literal' ? 'value' : 'value.raw'}=/\\b(?:SELECT\\s[\\s\\S]*\\sFROM|INSERT\\s+INTO|UPDATE\\s+\\w+\\s+SET|DELETE\\s+FROM)\\b/i]`,
);

export default defineConfig(
  globalIgnores(['dist/', '.tools/', '.data/', 'node_modules/', 'coverage/']),
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
        },
      ],
    },
  },
  {
    // Layer rule (a): workflows/ is bundled into Temporal's deterministic sandbox. At run time it may
    // import only the workflow SDK, its own folder and the pure domain modules (no database, no Node
    // APIs); the activities only as types (`import type * as activities`), which the compiler erases.
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: `^(?!(?:${WORKFLOW_IMPORTS.join('|')})$)`,
              message:
                'workflows/ runs in the Temporal sandbox: import only @temporalio/workflow, @temporalio/common, ./ (the workflows and their contract) and the pure domain modules (eslint.config.mjs: PURE_DOMAIN_MODULES).',
            },
            {
              regex: '^\\.\\./activities(?:/[^/]+)?$',
              allowTypeImports: true,
              message:
                'workflows/ may import the activities as types only (`import type`): their code runs in the worker, never in the sandbox.',
            },
          ],
        },
      ],
    },
  },
  {
    // Layer rule (b): the API and the metrics never write SQL; they call domain/ functions with the
    // Store (db/store.ts), which they name as a type only. Only the db plugin creates the Store.
    files: ['api/**/*.ts', 'observability/**/*.ts'],
    ignores: ['api/plugins/db.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: 'typeorm',
              message:
                'api/ and observability/ never use TypeORM: statements belong in domain/, which takes the Store.',
            },
            {
              name: 'pg',
              message: 'api/ and observability/ never talk to Postgres directly: call a domain/ function.',
            },
          ],
          patterns: [
            {
              regex: DB_INTERNALS,
              message:
                'api/ and observability/ never write SQL nor open connections: call a domain/ function with the Store (domain/ also exports the row types).',
            },
            {
              regex: DB_STORE,
              allowTypeImports: true,
              message: 'api/ and observability/ name the Store as a type only: api/plugins/db.ts creates it.',
            },
          ],
        },
      ],
    },
  },
  {
    // Layer rule (c): activities/ are thin Temporal adapters over domain/ (docs/architecture.md §2): they pass the
    // worker's Store to domain/ functions and never write SQL themselves.
    files: ['activities/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: 'typeorm', message: 'activities/ never use TypeORM: call a domain/ function with the Store.' },
            {
              name: 'pg',
              message: 'activities/ never talk to Postgres directly: call a domain/ function with the Store.',
            },
          ],
          patterns: [
            {
              regex: DB_INTERNALS,
              message: 'activities/ never write SQL: put the statement in a domain/ function that takes the Store.',
            },
            {
              regex: DB_STORE,
              allowTypeImports: true,
              message: 'activities/ name the Store as a type only: worker/deps.ts creates it.',
            },
          ],
        },
      ],
      'no-restricted-syntax': [
        'error',
        ...SQL_TEXT.map((selector) => ({
          selector,
          message: 'activities/ never write SQL: move the statement into domain/.',
        })),
      ],
    },
  },
  {
    // Layer rule (e): domain/ holds every statement, and runs each on the Store or the transaction's
    // Sql it is handed (the one seam where a statement meets a database): it never opens a connection.
    files: ['domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: 'typeorm',
              message: 'domain/ runs its statements on the Store it is given (db/store.ts), never through TypeORM.',
            },
            {
              name: 'pg',
              message:
                'domain/ runs its statements on the Store it is given (db/store.ts), never on a pg client of its own.',
            },
          ],
          patterns: [
            {
              regex: '(?:^|/)db/(?:data-source|migrate|migrations|entities)(?:/.*)?$',
              message: 'domain/ runs its statements on the Store it is given.',
            },
            {
              regex: DB_STORE,
              allowTypeImports: true,
              message: 'domain/ takes the Store as a parameter (type only): the processes create it.',
            },
            {
              regex: '(?:^|/)db/sql$',
              allowTypeImports: true,
              message: 'domain/ takes the Sql as a parameter (type only).',
            },
          ],
        },
      ],
    },
  },
  {
    // Layer rule (d): scripts/ reach the service's data through domain/ like everything else. The
    // exceptions bootstrap or measure a database from outside the service: migrate.ts (creates the
    // database, applies the migrations), bench-postgres.ts (Postgres' own ceiling, in a scratch schema),
    // and the chaos run's cluster.ts (creates its database), main.ts and checker.ts (the outside
    // auditor, which must not trust the domain code it audits).
    files: ['scripts/**/*.ts'],
    ignores: [
      'scripts/migrate.ts',
      'scripts/bench-postgres.ts',
      'scripts/chaos/cluster.ts',
      'scripts/chaos/main.ts',
      'scripts/chaos/checker.ts',
    ],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: 'typeorm',
              message:
                'scripts/ never use TypeORM: call a domain/ function with a Store (or db/migrate.ts for the schema).',
            },
            {
              name: 'pg',
              message:
                'scripts/ never talk to Postgres directly: call a domain/ function with a Store (eslint.config.mjs lists the exceptions).',
            },
          ],
          patterns: [
            {
              regex: DB_INTERNALS,
              message: 'scripts/ never write SQL: call a domain/ function with a Store (db/store.ts createStore).',
            },
          ],
        },
      ],
    },
  },
  {
    // Type-aware rules for the TypeScript sources: the bug classes of promise-heavy code — a forgotten
    // `await` on a workflow API, an activity or a transaction; an async callback where a sync one is
    // expected; a thrown or rejected non-Error; a return from try without await, which skips its catch
    // and finally. Temporal's own samples lint for the same.
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/only-throw-error': 'error',
      '@typescript-eslint/prefer-promise-reject-errors': 'error',
      '@typescript-eslint/return-await': ['error', 'in-try-catch'],
      '@typescript-eslint/no-for-in-array': 'error',
      '@typescript-eslint/no-implied-eval': 'error',
      '@typescript-eslint/no-base-to-string': 'error',
      '@typescript-eslint/no-unnecessary-type-assertion': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
    },
  },
  {
    // CommonJS files (jest.config.js and the like)
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
