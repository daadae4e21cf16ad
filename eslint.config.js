// Lint rules: typescript-eslint's recommended set, with `any` banned as STYLE.md asks, and which folder may import which.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Node modules that reach files, processes or the network: what a pure module never imports. */
const IO_MODULES = [
  'node:fs',
  'node:fs/*',
  'node:child_process',
  'node:http',
  'node:https',
  'node:net',
  'execa',
  'js-yaml',
];

/**
 * One entry per folder of src/installer (see src/installer/README.md) and for the CLI: the imports it may not make.
 * The layers, from the bottom: model (data, pure) < decide (pure decisions) < cluster, istioctl (I/O) < actions (the
 * commands' flow) < the CLI, which only wires, parses and prints. Each file gets one entry: a later entry for the same
 * rule would replace an earlier one.
 */
const boundary = (files, patterns, ignores = []) => ({
  files,
  ignores,
  rules: { '@typescript-eslint/no-restricted-imports': ['error', { patterns }] },
});

const NO_CLI = ['**/cli/*'];
const NOT_BELOW = (...folders) => folders.flatMap((folder) => [`../${folder}/*`, `./${folder}/*`]);
const TYPES_ONLY_OF_CLIENT_NODE = {
  group: ['@kubernetes/client-node'],
  allowTypeImports: true,
  message: 'a pure module uses only the types of @kubernetes/client-node',
};
/** What the CLI may reach of the installer: the actions, and what it wires into their dependencies. */
const CLI_MAY_IMPORT = [
  'actions/.*',
  'deps',
  'decide/(status|fleet-status)',
  'istioctl/(at-hand|runner|offline-check)',
  'cluster/(client-node-kube|rest-kube|kubeconfig|holder)',
];
const CLI_IMPORTS_OF_INSTALLER = {
  regex: `^\\.\\./installer/(?!(${CLI_MAY_IMPORT.join('|')})\\.js$)`,
  message:
    'the CLI parses and prints: it calls installer/actions/* and wires the dependencies (installer-deps.ts), nothing else',
};
const COMMANDS = [
  'install',
  'plan',
  'run',
  'status',
  'uninstall',
  'mirror',
  'schema',
  'render',
  'prepare-site',
];

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', '.cluster/', 'charts/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  boundary(
    ['src/installer/model/**/*.ts'],
    [
      {
        group: [
          ...NOT_BELOW('decide', 'cluster', 'istioctl', 'actions'),
          '../deps.js',
          ...NO_CLI,
          '**/mirror/*',
          ...IO_MODULES,
        ],
        message:
          'model/ is data and pure helpers: it imports only model/, overlay/ and errors (see src/installer/README.md)',
      },
      TYPES_ONLY_OF_CLIENT_NODE,
    ],
  ),
  boundary(
    ['src/installer/decide/**/*.ts'],
    [
      {
        group: [
          ...NOT_BELOW('cluster', 'istioctl', 'actions'),
          '../deps.js',
          ...NO_CLI,
          '**/mirror/*',
          ...IO_MODULES,
        ],
        message:
          'decide/ is pure: it imports model/, decide/ and overlay/, never I/O (see src/installer/README.md)',
      },
      TYPES_ONLY_OF_CLIENT_NODE,
    ],
  ),
  boundary(
    ['src/installer/cluster/**/*.ts'],
    [
      {
        group: [...NOT_BELOW('istioctl', 'actions'), ...NO_CLI],
        message:
          'cluster/ is Kubernetes I/O: it imports model/, decide/ and deps, never istioctl/ or actions/',
      },
    ],
  ),
  boundary(
    ['src/installer/istioctl/**/*.ts'],
    [
      {
        group: [...NOT_BELOW('cluster', 'actions'), ...NO_CLI],
        message: 'istioctl/ runs istioctl: it imports model/, decide/ and deps, never cluster/ or actions/',
      },
    ],
  ),
  boundary(
    ['src/installer/*.ts', 'src/installer/actions/**/*.ts'],
    [
      {
        group: NO_CLI,
        message: 'the installer never imports the CLI; the CLI passes in what it needs (deps.ts)',
      },
    ],
  ),
  boundary(
    ['src/cli/**/*.ts'],
    [
      CLI_IMPORTS_OF_INSTALLER,
      {
        group: COMMANDS.map((command) => `./${command}.js`),
        message:
          'a command file does not import another command; what they share lives in inputs.ts, installer-deps.ts, main.ts',
      },
    ],
    // The command tables: every command (commands.ts), the start-up snapshot's (startup-snapshot.ts).
    ['src/cli/commands.ts', 'src/cli/startup-snapshot.ts'],
  ),
  boundary(['src/cli/commands.ts', 'src/cli/startup-snapshot.ts'], [CLI_IMPORTS_OF_INSTALLER]),
);
