// The image's start-up snapshot (`node --build-snapshot`): the CLI with `render` and `schema` loaded and run once, so they start warm; any other command runs the regular bundle.
import path from 'node:path';
import v8 from 'node:v8';
import { config as zodConfig } from 'zod';
import type { Json } from '../overlay/json.js';
import { renderDocument } from '../overlay/index.js';
import type { CliIO } from './io.js';
import { processIO } from './io.js';
import { COMMAND_NAMES, commandsNeeded, main, type CommandLoaders } from './main.js';
import { registerRender } from './render.js';
import { registerSchema } from './schema.js';

/**
 * Why: a `render` spends most of its time starting, not rendering: loading and evaluating the modules (zod builds
 * hundreds of schema objects), compiling the functions it calls, compiling the IstioOperator check. A V8 start-up
 * snapshot taken after one warm-up render holds all of that, so `render -f values.yaml` and the 1.9 MB render each
 * finish about 30 ms sooner on Node 24 (alternating runs; `npm run bench` times both ways). The image builds the
 * snapshot with its own Node (Dockerfile) and its `istio-installer` starts Node from it (`docker/istio-installer`).
 *
 * Only the commands CI pipelines run many times are inside; the others would make the snapshot larger, and every
 * start slower, for commands that run once per install and spend seconds in istioctl.
 */
const LOADED: CommandLoaders = {
  render: () => Promise.resolve(registerRender),
  schema: () => Promise.resolve(registerSchema),
};

// As in entry.ts: zod's per-schema compilation costs more than it saves in a process that parses a few documents.
zodConfig({ jitless: true });

if (v8.startupSnapshot.isBuildingSnapshot()) {
  v8.startupSnapshot.setDeserializeMainFunction(runCommandLine);
  // Node takes the snapshot once the event loop is empty, so after the warm-up; a failed warm-up fails the build.
  void warmUp().catch((error: unknown) => {
    process.stderr.write(`start-up snapshot: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
} else runCommandLine();

/** What the snapshot runs: process.argv is node, the program's path (as for a script) and the arguments. */
function runCommandLine(): void {
  const argv = process.argv.slice(2);
  if (commandsNeeded(argv, COMMAND_NAMES).every((name) => LOADED[name] !== undefined))
    void main(argv, processIO(), LOADED).then((code) => {
      process.exitCode = code;
    });
  else runBundle();
}

/** Every other command: the regular bundle, as bin/istio-installer.js runs it, with the same arguments. */
function runBundle(): void {
  const nodeModule = process.getBuiltinModule('node:module');
  // Node 22.1 on (@types/node 20 does not know it), as in bin/istio-installer.js.
  (nodeModule as { enableCompileCache?: () => unknown }).enableCompileCache?.();
  // require() of an ES module (Node 20.19 and 22.12 on), since code compiled into a snapshot cannot import().
  // __dirname is where this file was when the snapshot was built: the image builds it in place.
  nodeModule.createRequire(__filename)(path.join(__dirname, '..', 'bundle', 'entry.mjs'));
}

/** Runs each command the snapshot holds on in-memory inputs, so their functions are compiled when it is taken. */
async function warmUp(): Promise<void> {
  const overlay = renderDocument(sampleOverlay(), 'yaml');
  const values = renderDocument(sampleValues(), 'yaml');
  await expectOutput(['render', '-f', '-'], values);
  await expectOutput(
    ['render', '-o', 'json', '--set', 'spec.meshConfig.accessLogFile=/dev/stdout', '--overlay', '-'],
    overlay,
  );
  await expectOutput(['schema'], '');
}

async function expectOutput(argv: string[], stdin: string): Promise<void> {
  let stdout = '';
  let stderr = '';
  const io: CliIO = {
    stdout: { write: (text) => void (stdout += text) },
    stderr: { write: (text) => void (stderr += text) },
    stdin: () => oneChunk(stdin),
    env: {},
    cwd: '/',
  };
  const code = await main(argv, io, LOADED);
  if (code !== 0 || stdout === '')
    throw new Error(`warm-up "${argv.join(' ')}" exited ${code}: ${stderr.trim()}`);
}

async function* oneChunk(text: string): AsyncIterable<Uint8Array> {
  yield Buffer.from(text);
}

/** Rancher's values with a few changes, one of them a key that warns (so its position is looked up). */
function sampleValues(): Json {
  return {
    tag: '1.25.0',
    installer: { repository: 'rancher/istio-installer' },
    cni: { enabled: true, excludeNamespaces: ['istio-system', 'kube-system'] },
    ingressGateways: { enabled: true, type: 'NodePort' },
    pilot: { enabled: true, hpaSpec: {} },
    global: { cattle: { systemDefaultRegistry: '' } },
  };
}

/** An overlay with the shapes large overlays repeat: gateways with env, annotations, ports and patches. */
function sampleOverlay(): Json {
  const gateways = [0, 1, 2, 3].map((i) => ({
    name: `gateway-${i}`,
    enabled: true,
    namespace: `team-${i}`,
    label: { istio: `gateway-${i}`, app: `gateway-${i}` },
    k8s: {
      env: [0, 1, 2, 3].map((j) => ({ name: `SETTING_${j}`, value: `value-${j}` })),
      podAnnotations: { 'example.com/owner': `team-${i}`, 'example.com/tier': 'edge' },
      resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '2', memory: '1Gi' } },
      service: {
        type: 'LoadBalancer',
        ports: [0, 1].map((j) => ({ name: `port-${j}`, port: 8000 + j, targetPort: 18000 + j })),
      },
      overlays: [
        {
          kind: 'Deployment',
          name: `gateway-${i}`,
          patches: [{ path: 'spec.template.metadata.labels.extra', value: `v${i}` }],
        },
      ],
    },
  }));
  return {
    apiVersion: 'install.istio.io/v1alpha1',
    kind: 'IstioOperator',
    spec: {
      profile: 'default',
      meshConfig: { enableTracing: false, defaultConfig: { holdApplicationUntilProxyStarts: true } },
      components: { ingressGateways: gateways },
      values: { global: { logging: { level: 'default:info' } } },
    },
  };
}
