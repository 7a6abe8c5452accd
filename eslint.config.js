// Lint: the recommended JS + TypeScript rules; errors must never be swallowed silently; imports only
// point down the layers below, and only entry points load the configuration.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The layers, bottom first (docs/architecture.md, "Layers"). A folder may import its own layer's
 * lower rows and nothing above; folders on one row are independent of each other.
 */
const LAYERS = [
  ['config'],
  ['core'],
  ['projections'],
  ['workers'],
  ['ingest'],
  ['processors', 'gateway'],
  ['ops'],
  ['benchmarks'],
  ['test'],
];

/** Where the configuration is loaded (config/index.ts loadConfig); everything else receives it. */
const ENTRY_POINTS = ['gateway/main.ts', 'processors/main.ts', 'ops/**', 'benchmarks/**', 'test/**'];

/**
 * Imports that break the layering and are allowed while other work removes them: file → folders it
 * may still reach. Empty: keep it so.
 */
const PENDING = {};

const CONFIG_LOADER = {
  group: ['**/config/index.js'],
  importNames: ['loadConfig'],
  message: 'Only entry points (*/main.ts, ops/, benchmarks/, test/) load the configuration; take a Config (or a part of it) as a parameter.',
};

function restrictions(folder, { entry = false, allow = [] } = {}) {
  const row = LAYERS.findIndex((r) => r.includes(folder));
  const above = LAYERS.slice(row + 1).flat();
  const peers = LAYERS[row].filter((f) => f !== folder);
  const patterns = [...above, ...peers].map((f) => ({
    group: [`**/${f}/**`, ...allow.map((a) => `!${a}`)],
    message: `${folder}/ may not import ${f}/: imports point down the layers (eslint.config.js LAYERS, docs/architecture.md).`,
  }));
  if (!entry) patterns.push(CONFIG_LOADER);
  return ['error', { patterns }];
}

const layerRules = LAYERS.flat().flatMap((folder) => [
  { files: [`${folder}/**/*.ts`], rules: { 'no-restricted-imports': restrictions(folder) } },
  ...ENTRY_POINTS.filter((e) => e.startsWith(`${folder}/`)).map((e) => ({
    files: [e.endsWith('**') ? `${e}/*.ts` : e],
    rules: { 'no-restricted-imports': restrictions(folder, { entry: true }) },
  })),
  ...Object.entries(PENDING).filter(([file]) => file.startsWith(`${folder}/`)).map(([file, allow]) => ({
    files: [file],
    rules: { 'no-restricted-imports': restrictions(folder, { allow }) },
  })),
]);

/**
 * The SDK (client/) is a separate package in spirit: it runs in browsers, so it may import nothing
 * from the server folders and no Node built-in.
 */
const SERVER_FOLDERS = LAYERS.flat();
const clientRules = {
  files: ['client/**/*.ts'],
  rules: {
    'no-restricted-imports': ['error', {
      patterns: [
        { group: SERVER_FOLDERS.map((f) => `**/${f}/**`), message: 'client/ is the browser SDK: it imports nothing from the server folders.' },
        { group: ['node:*', 'ws', 'ioredis', 'postgres', 'uWebSockets.js'], message: 'client/ runs in browsers: no Node built-ins or server packages (inject them).' },
      ],
    }],
  },
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.data*/**', 'benchmarks/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      'no-empty': ['error', { allowEmptyCatch: false }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  ...layerRules,
  clientRules,
);
