// Which command modules the CLI loads for a command line: only the named one, or all of them when in doubt.
import { COMMANDS } from '../../src/cli/commands.js';
import { commandsNeeded } from '../../src/cli/main.js';
import { runCli } from '../helpers/run-cli.js';

const NAMES = ['render', 'schema', 'mirror'];

test.each([
  [['render', '-f', 'values.yaml'], ['render']],
  [['--log-format', 'json', 'render'], ['render']],
  [['--log-format=json', '--debug', 'mirror', 'serve'], ['mirror']],
  [['--help'], NAMES],
  [['render-typo'], NAMES],
  [['--version'], []],
  [['-V'], []],
  [['--version', '--help'], NAMES],
  [[], NAMES],
  [['--help', 'render'], NAMES],
  [['help', 'render'], NAMES],
  [['--log-format', 'render'], NAMES],
])('%j needs %j', (argv, needed) => {
  expect(commandsNeeded(argv, NAMES)).toEqual(needed);
});

test('help lists every command, whether or not a command follows it', async () => {
  const names = [
    'render',
    'schema',
    'plan',
    'install',
    'uninstall',
    'status',
    'run',
    'mirror',
    'prepare-site',
  ];
  for (const argv of [['--help'], ['--help', 'render']]) {
    const { code, stdout } = await runCli(argv);
    expect(code).toBe(0);
    for (const name of names) expect(stdout).toMatch(new RegExp(`^  ${name}\\b`, 'm'));
  }
});

test('a misspelt command is still answered with the closest one', async () => {
  const { code, stderr } = await runCli(['rendr']);
  expect(code).toBe(2);
  expect(stderr).toContain('render');
});

test('a command line that needs a command this build lacks is a bug line and exit 1, not a crash', async () => {
  // The start-up snapshot's table, which holds render and schema only (src/cli/startup-snapshot.ts).
  const { code, stderr } = await runCli(['status'], {
    commands: { render: COMMANDS.render, schema: COMMANDS.schema },
  });
  expect(code).toBe(1);
  expect(stderr).toBe(
    'internal error (a bug, please report it): the status command is not available in this build\n',
  );
});
