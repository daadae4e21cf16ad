// `status` over several clusters with real API servers: one rig reached through two contexts, a context whose port
// refuses connections and one whose server accepts and never answers; rows before and after a real install.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { dump, load } from 'js-yaml';
import { freePort, startCluster, type Cluster } from '../cluster/rig.js';
import { BIN, cli, installerEnv, valuesFile } from './helpers.js';

let cluster: Cluster;
let dir: string;
let kubeconfig: string;
let silent: net.Server;
const held = new Set<net.Socket>();

interface Row {
  cluster: string;
  error: { kind: string; message: string } | null;
  kubernetes: string;
  installed: boolean;
  healthy: boolean;
  istioVersion: string | null;
  revision: string | null;
  lastRun: { action: string; outcome: string } | null;
  pending: unknown;
  dataPlane: { proxies: number };
}

/** The installer as a user runs it, with this test's kubeconfig of four contexts. */
async function status(args: string[]) {
  const result = await execa(process.execPath, [BIN, 'status', '--kubeconfig', kubeconfig, ...args], {
    reject: false,
    env: installerEnv(),
    extendEnv: false,
  });
  return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
}

beforeAll(async () => {
  cluster = await startCluster({ lifetimeMs: 20 * 60_000, nodes: 1, istio: ['1.31.0'] });
  dir = mkdtempSync(path.join(tmpdir(), 'e2e-fleet-status-'));
  // A server that takes the connection and never says a word: only the per-cluster deadline ends the wait.
  silent = net.createServer((socket) => {
    held.add(socket);
    socket.on('close', () => held.delete(socket));
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const silentPort = (silent.address() as net.AddressInfo).port;
  const refusedPort = await freePort();
  const rig = load(readFileSync(cluster.kubeconfigPath, 'utf8')) as {
    clusters: { name: string; cluster: Record<string, unknown> }[];
    users: unknown[];
  };
  const rigCluster = rig.clusters[0]?.cluster ?? {};
  const at = (name: string, port: number) => ({
    name,
    cluster: { ...rigCluster, server: `https://127.0.0.1:${port}` },
  });
  kubeconfig = path.join(dir, 'fleet-kubeconfig');
  writeFileSync(
    kubeconfig,
    dump({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [...rig.clusters, at('refused', refusedPort), at('silent', silentPort)],
      users: rig.users,
      contexts: ['east', 'west', 'refused', 'silent'].map((name) => ({
        name,
        context: { cluster: name === 'east' || name === 'west' ? 'rig' : name, user: 'rig-admin' },
      })),
      'current-context': 'east',
    }),
  );
});

afterAll(async () => {
  for (const socket of held) socket.destroy();
  await new Promise<void>((resolve) => (silent ? silent.close(() => resolve()) : resolve()));
  await cluster?.stop();
});

test('before any install: two rows of the rig not installed, the dead two say why; exit 5', async () => {
  const result = await status(['--all-contexts', '--timeout', '3', '-o', 'json']);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  expect(result.exitCode).toBe(5);
  expect(result.stderr).toBe(
    'timed out: 2 of 4 clusters could not be read: refused (unreachable), silent (unreachable); each had 3s (--timeout)',
  );
  const rows = JSON.parse(result.stdout) as Row[];
  expect(rows.map((r) => [r.cluster, r.error?.kind ?? 'read', r.installed, r.kubernetes])).toEqual([
    ['east', 'read', false, cluster.kubeVersion],
    ['west', 'read', false, cluster.kubeVersion],
    ['refused', 'unreachable', false, ''],
    ['silent', 'unreachable', false, ''],
  ]);
  expect(rows[2]?.error?.message).toMatch(/did not answer .* after 3 attempts \(ECONNREFUSED\)$/);
  expect(rows[3]?.error?.message).toBe('no answer within 3s');
});

test('after a real install: both contexts of the rig are healthy rows with the record; one line each', async () => {
  const install = await cli(
    ['install', '-f', valuesFile(dir, 'values.yaml', 'tag: "1.31.0"\ningressGateways:\n  enabled: false\n')],
    cluster.kubeconfigPath,
  );
  expect(install.stderr).not.toMatch(/\n\s+at /);
  expect(install.exitCode).toBe(0);

  const json = await status(['--context', 'east', '--context', 'west', '-o', 'json']);
  expect(json.exitCode).toBe(0);
  expect(json.stderr).toBe('');
  const rows = JSON.parse(json.stdout) as Row[];
  for (const row of rows)
    expect(row).toMatchObject({
      error: null,
      installed: true,
      healthy: true,
      istioVersion: '1.31.0',
      revision: 'default',
      lastRun: { action: 'install', outcome: 'succeeded' },
      pending: null,
      dataPlane: { proxies: 0 },
    });

  const human = await status(['--all-contexts', '--timeout', '3']);
  expect(human.exitCode).toBe(5);
  const lines = human.stdout.trimEnd().split('\n');
  expect(lines).toHaveLength(6);
  expect(lines[0]).toMatch(
    /^CLUSTER +KUBERNETES +ISTIO +REVISION +HEALTH +LAST RUN +WHEN +PENDING +SKEW +NOTE$/,
  );
  expect(lines.slice(1, 5).map((l) => l.split(/ {2,}/).slice(0, 6))).toEqual([
    ['east', cluster.kubeVersion, '1.31.0', 'default', 'healthy', 'install succeeded'],
    ['west', cluster.kubeVersion, '1.31.0', 'default', 'healthy', 'install succeeded'],
    ['refused', '-', '-', '-', 'UNREACHABLE', '-'],
    ['silent', '-', '-', '-', 'UNREACHABLE', '-'],
  ]);
  expect(lines[5]).toBe('4 clusters: 2 healthy, 2 unreachable');
});

test('one context asked for: the single-cluster status, as before', async () => {
  const one = await status(['--context', 'west']);
  const plain = await cli(['status'], cluster.kubeconfigPath);
  expect(one.exitCode).toBe(0);
  expect(one.stdout).toMatch(/^Istio in istio-system: healthy \(Kubernetes v/);
  expect(one.stdout).toBe(plain.stdout);
});
