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

export default defineConfig(
  globalIgnores(['dist/', '.tools/', '.data/', 'node_modules/', 'coverage/']),
  js.configs.recommended,
  // the non-type-checked set: fast, and `tsc --noEmit` does the type checking
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
              message: 'workflows/ may import the activities as types only (`import type`): their code runs in the worker, never in the sandbox.',
            },
          ],
        },
      ],
    },
  },
  {
    // Layer rule (b): the API and the metrics never write SQL; they call domain/ functions with the
    // DataSource. Only the DataSource plugin reaches into db/ beyond that.
    files: ['api/**/*.ts', 'observability/**/*.ts'],
    ignores: ['api/plugins/db.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: 'typeorm',
              allowTypeImports: true,
              message: 'api/ and observability/ name the DataSource as a type only: queries and repositories belong in domain/.',
            },
            { name: 'pg', message: 'api/ and observability/ never talk to Postgres directly: call a domain/ function.' },
          ],
          patterns: [
            {
              regex: '(?:^|/)db/(?:sql|entities|migrations)(?:/.*)?$',
              message:
                'api/ and observability/ never write SQL nor touch entities: call a domain/ function with the DataSource (domain/ also exports the row types).',
            },
          ],
        },
      ],
    },
  },
  {
    // CommonJS files (jest.config.js and the like)
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
