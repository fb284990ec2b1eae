// Type-checked lint plus the layering of DESIGN.md, enforced by eslint-plugin-boundaries.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import boundaries from 'eslint-plugin-boundaries';
import reactHooks from 'eslint-plugin-react-hooks';

const layers = [
  'documents', 'engine', 'analysis', 'metrics', 'traffic', 'router', 'runtime',
  'controller', 'state', 'view', 'api', 'cli', 'console', 'demo', 'kube', 'lib', 'notify',
];

/**
 * Parts below the top level, each its own element (listed before the layers: a file belongs to the
 * first element whose pattern matches it). The router's contract (route tables, events, figures)
 * and its control port are what the rest of the house may know of the router; the data plane
 * itself is for composition roots only. `controller/local` is a composition root.
 */
const parts = [
  { type: 'contract', pattern: 'src/api/contract' },
  { type: 'controller-core', pattern: 'src/controller/core' },
  { type: 'router-contract', pattern: 'src/router/contract' },
  // Adapters of the control port are the data plane's business (element patterns match folders,
  // hence a folder per adapter, listed before the port's folder).
  { type: 'router', pattern: 'src/router/control/in-process' },
  { type: 'router', pattern: 'src/router/control/supervisor' },
  { type: 'router', pattern: 'src/router/control/nginx' },
  { type: 'router-control-port', pattern: 'src/router/control' },
  { type: 'controller-local', pattern: 'src/controller/local' },
  // The Kubernetes composition root: the same core, the cluster's adapters, no built-in router.
  { type: 'controller-kubernetes', pattern: 'src/controller/kubernetes' },
  // The CLI's verbs against a cluster: the Kubernetes adapters' reading and writing, no controller.
  { type: 'cli-cluster', pattern: 'src/cli/cluster' },
];

/** Which layer may import which: data flows documents → engine → actions → adapters. */
/** @type {Record<string, string[]>} */
const allowed = {
  lib: [],
  documents: ['lib'],
  engine: ['documents', 'lib'],
  analysis: ['documents', 'engine', 'router-contract', 'lib'],
  metrics: ['analysis', 'documents', 'router-contract', 'lib'],
  'router-contract': [],
  'router-control-port': ['router-contract'],
  router: ['router-contract', 'router-control-port', 'lib'],
  // Kubernetes plumbing shared by the Kubernetes adapters: client configuration, informers, leases.
  kube: ['lib'],
  traffic: ['router-contract', 'router-control-port', 'engine', 'documents', 'kube', 'lib'],
  runtime: ['documents', 'engine', 'kube', 'lib'],
  state: ['documents', 'engine', 'analysis', 'kube', 'lib'],
  // The controller core speaks to the world through ports only; adapters are the composition
  // roots' business (see the import restrictions on src/controller/core below).
  'controller-core': ['controller', 'contract', 'view', 'documents', 'engine', 'analysis', 'traffic', 'router-contract', 'router-control-port', 'runtime', 'state', 'lib'],
  // Notifications: receivers (one folder per type) and the feed from the core's events.
  notify: ['controller-core', 'documents', 'state', 'lib'],
  contract: ['lib'],
  view: ['contract', 'documents', 'engine', 'router-contract', 'lib'],
  controller: ['controller-core', 'documents', 'engine', 'analysis', 'metrics', 'traffic', 'router-contract', 'router-control-port', 'runtime', 'state', 'view', 'contract', 'kube', 'lib'],
  // The single-host composition root: the only part of the controller that builds a router.
  'controller-local': ['notify', 'controller', 'controller-core', 'documents', 'engine', 'analysis', 'metrics', 'traffic', 'router', 'router-contract', 'router-control-port', 'runtime', 'state', 'view', 'contract', 'lib'],
  'controller-kubernetes': ['notify', 'controller', 'controller-core', 'documents', 'engine', 'analysis', 'metrics', 'traffic', 'router-contract', 'router-control-port', 'runtime', 'state', 'view', 'contract', 'kube', 'lib'],
  api: ['contract', 'view', 'controller', 'state', 'documents', 'engine', 'analysis', 'router-contract', 'lib'],
  cli: ['cli-cluster', 'api', 'contract', 'view', 'controller', 'controller-local', 'controller-kubernetes', 'kube', 'documents', 'engine', 'analysis', 'traffic', 'router', 'router-contract', 'demo', 'lib'],
  'cli-cluster': ['cli', 'api', 'contract', 'view', 'controller', 'controller-core', 'controller-local', 'kube', 'documents', 'engine', 'runtime', 'state', 'traffic', 'lib'],
  demo: ['api', 'contract', 'view', 'documents', 'lib'],
  console: ['api', 'contract', 'view', 'lib'],
};

/**
 * `child.kill()` on a child whose spawn failed signals kill(2)'s pid 0, the caller's own process
 * group (a CI run and its shell); signalChild() sends nothing to a child without a pid.
 */
const noChildKill = {
  selector: "CallExpression[callee.type='MemberExpression'][callee.property.type='Identifier'][callee.property.name='kill']:not([callee.object.name='process'])",
  message: 'signal a child with signalChild() from src/lib/signal-child.ts: kill() after a failed spawn signals our own process group.',
};

const pureRestrictions = {
  'no-restricted-imports': ['error', { patterns: [{ group: ['node:*', 'fs', 'http', 'net', 'child_process', 'os', 'crypto'], message: 'engine/ is pure: no I/O modules.' }] }],
  'no-restricted-globals': ['error', 'setTimeout', 'setInterval', 'process', 'fetch', 'performance'],
  'no-restricted-properties': ['error',
    { object: 'Date', property: 'now', message: 'engine/ is pure: time comes in as an argument.' },
    { object: 'Math', property: 'random', message: 'engine/ is pure: randomness comes in as an argument.' }],
  'no-restricted-syntax': ['error', noChildKill, { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: 'engine/ is pure: time comes in as an argument.' }],
};

export default tseslint.config(
  { ignores: ['.scratch*', 'dist/**', 'node_modules/**', 'coverage/**', 'bin/**', 'examples/**/*.js', 'src/console/assets/**', 'bench/.out/**', 'src/**/*.generated.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['*.js'] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      'no-restricted-syntax': ['error', noChildKill],
    },
  },
  { files: ['src/lib/signal-child.ts'], rules: { 'no-restricted-syntax': 'off' } },
  {
    files: ['src/**/*.ts', 'src/**/*.tsx'],
    plugins: { boundaries },
    settings: {
      'boundaries/elements': [...parts, ...layers.map((type) => ({ type, pattern: `src/${type}` }))],
      'import/resolver': { typescript: { project: './tsconfig.json' }, node: true },
    },
    rules: {
      'boundaries/dependencies': ['error', {
        default: 'disallow',
        policies: [...new Set([...parts.map((p) => p.type), ...layers])].map((from) => ({ from: { element: { type: from } }, allow: { to: { element: { type: [from, ...allowed[from]] } } } })),
      }],
    },
  },
  // The web console: React's rules of hooks; it runs in a browser, so no Node module at all.
  {
    files: ['src/console/**/*.ts', 'src/console/**/*.tsx'],
    ignores: ['src/console/vite.config.ts', '**/*.test.ts'],
    plugins: { 'react-hooks': reactHooks },
    rules: {
      ...reactHooks.configs.recommended.rules,
      'no-restricted-imports': ['error', { patterns: [{ group: ['node:*'], message: 'the console runs in a browser: no Node modules.' }] }],
    },
  },
  // Plain JavaScript fixtures (servers the tests start) are linted without type information.
  { files: ['**/*.mjs'], ...tseslint.configs.disableTypeChecked },
  { files: ['src/engine/**/*.ts', 'src/analysis/judge/**/*.ts', 'src/view/**/*.ts'], ignores: ['**/*.test.ts'], rules: pureRestrictions },
  {
    // The core may import a layer's port, never its adapters; only the composition roots
    // (controller/local, later controller/kubernetes) choose adapters.
    files: ['src/controller/core/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{
        group: [
          '**/local/**', '**/controller/*', '!**/controller/control-plane.js', '!**/controller/view-model.js', '!**/controller/core',
          '**/state/*', '!**/state/state-port.js',
          '**/traffic/*', '!**/traffic/traffic-provider.js',
          '**/runtime/*', '!**/runtime/runtime.js',
          '**/router/*', '!**/router/control', '!**/router/types.js', '!**/router/contract',
          '**/router/control/*', '!**/router/control/router-control.js',
          '**/metrics/**',
        ],
        message: 'controller/core imports ports, never adapters: only composition roots (controller/local) choose adapters.',
      }] }],
    },
  },
  {
    files: ['**/*.test.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
);
