// `npx tsx test/chart/measure-rbac.ts`: measures the RBAC the chart's installer needs. On a fresh rig, a ServiceAccount
// with no permissions runs `istio-installer run` through install, gateway overlay, upgrade, uninstall, a CNI install
// with purge, and an ambient install with purge; every request the apiserver denies becomes a rule, and the run
// repeats until it succeeds. Prints the rules.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { loadAll, load, dump } from 'js-yaml';
import { startCluster, type Cluster } from '../cluster/rig.js';
import { imageIstioctlDir } from '../cluster/image.js';
import { ISTIO_VERSIONS } from '../cluster/tools.js';
import { CHART, HELMS, NAMESPACE, helm, type KubeObject } from './render.js';
import { deniedGrants, type Grant } from './rbac-denials.js';

const SA = 'rbac-measure';
const [OLDER = '', NEWER = ''] = ISTIO_VERSIONS;
const say = (line: string) => process.stderr.write(`measure: ${line}\n`);

const key = (g: Grant) => [g.scope, g.group, g.resource, g.verb, g.name ?? ''].join('|');

function roleRules(grants: Grant[], scope: Grant['scope']) {
  return grants
    .filter((g) => g.scope === scope)
    .map((g) => ({
      apiGroups: [g.group],
      resources: [g.resource],
      verbs: [g.verb],
      ...(g.name ? { resourceNames: [g.name] } : {}),
    }));
}

/** The chart's installer values (its values ConfigMap) for extra `--set` flags. */
async function chartValues(sets: string[]): Promise<string> {
  const r = await helm(HELMS[0][1], [
    'template',
    'rancher-istio',
    CHART,
    '-n',
    NAMESPACE,
    ...sets.flatMap((s) => ['--set', s]),
  ]);
  if (r.exitCode !== 0) throw new Error(r.all);
  const cm = (loadAll(r.stdout) as KubeObject[]).find(
    (o) => o?.metadata?.name === 'rancher-istio-installer-values',
  );
  return (cm as unknown as { data: Record<string, string> }).data['values.yaml'] ?? '';
}

async function main(): Promise<void> {
  const base = join(homedir(), '.cache', 'rancher-istio');
  mkdirSync(base, { recursive: true });
  const work = mkdtempSync(join(base, 'rbac-measure-'));
  const cluster: Cluster = await startCluster({
    dir: join(work, 'cluster'),
    keepDir: false,
    nodes: 2,
    lifetimeMs: 60 * 60_000,
  });
  const grants = new Map<string, Grant>();
  try {
    await cluster.kube.post('/api/v1/namespaces', { metadata: { name: NAMESPACE } });
    await cluster.kube.post(`/api/v1/namespaces/${NAMESPACE}/serviceaccounts`, { metadata: { name: SA } });
    const rbac = '/apis/rbac.authorization.k8s.io/v1';
    const subjects = [{ kind: 'ServiceAccount', name: SA, namespace: NAMESPACE }];
    const roleRef = (kind: string) => ({ apiGroup: 'rbac.authorization.k8s.io', kind, name: SA });
    await cluster.kube.post(`${rbac}/clusterrolebindings`, {
      metadata: { name: SA },
      roleRef: roleRef('ClusterRole'),
      subjects,
    });
    await cluster.kube.post(`${rbac}/namespaces/${NAMESPACE}/rolebindings`, {
      metadata: { name: SA },
      roleRef: roleRef('Role'),
      subjects,
    });
    const token = (
      await cluster.kube.post<{ status: { token: string } }>(
        `/api/v1/namespaces/${NAMESPACE}/serviceaccounts/${SA}/token`,
        {
          spec: { expirationSeconds: 3600 },
        },
      )
    ).status.token;
    const admin = load(readFileSync(cluster.kubeconfigPath, 'utf8')) as { users: unknown[] };
    const kubeconfig = join(work, 'sa.kubeconfig');
    writeFileSync(kubeconfig, dump({ ...admin, users: [{ name: 'rig-admin', user: { token } }] }));

    const applyRoles = async () => {
      const all = [...grants.values()];
      await cluster.kubectl(
        ['apply', '-f', '-'],
        JSON.stringify({
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'ClusterRole',
          metadata: { name: SA },
          rules: roleRules(all, 'cluster'),
        }),
      );
      await cluster.kubectl(
        ['apply', '-f', '-'],
        JSON.stringify({
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'Role',
          metadata: { name: SA, namespace: NAMESPACE },
          rules: roleRules(all, 'namespace'),
        }),
      );
    };

    const gateway = dump({
      apiVersion: 'install.istio.io/v1alpha1',
      kind: 'IstioOperator',
      spec: { components: { ingressGateways: [{ name: 'edge-ingressgateway', enabled: true }] } },
    });
    const steps: { label: string; action: string; sets: string[]; overlays: string[] }[] = [
      { label: `install ${OLDER}`, action: 'install', sets: [`tag=${OLDER}`], overlays: [] },
      { label: 'add a gateway by overlay', action: 'install', sets: [`tag=${OLDER}`], overlays: [gateway] },
      { label: `upgrade to ${NEWER}`, action: 'install', sets: [`tag=${NEWER}`], overlays: [gateway] },
      { label: 'uninstall', action: 'uninstall', sets: [`tag=${NEWER}`], overlays: [gateway] },
      {
        label: 'install with CNI (rke2) and egress',
        action: 'install',
        sets: [
          `tag=${NEWER}`,
          'cni.enabled=true',
          'cni.platform=rke2',
          'egressGateways.enabled=true',
          'uninstall.purge=true',
        ],
        overlays: [],
      },
      {
        label: 'uninstall with purge',
        action: 'uninstall',
        sets: [`tag=${NEWER}`, 'cni.enabled=true', 'uninstall.purge=true'],
        overlays: [],
      },
      {
        label: 'install in ambient mode (istio-cni, ztunnel)',
        action: 'install',
        sets: [`tag=${NEWER}`, 'ambient.enabled=true'],
        overlays: [],
      },
      {
        label: 'uninstall the ambient mesh with purge',
        action: 'uninstall',
        sets: [`tag=${NEWER}`, 'ambient.enabled=true', 'uninstall.purge=true'],
        overlays: [],
      },
    ];
    const inputs = async (step: (typeof steps)[number]) => {
      const dir = mkdtempSync(join(work, 'step-'));
      const valuesFile = join(dir, 'values.yaml');
      writeFileSync(valuesFile, await chartValues([...step.sets, 'installer.timeouts.readinessSeconds=120']));
      mkdirSync(join(dir, 'overlays'));
      step.overlays.forEach((o, i) =>
        writeFileSync(join(dir, 'overlays', `10-overlays-${String(i).padStart(3, '0')}.yaml`), o),
      );
      return { valuesFile, overlayDir: join(dir, 'overlays') };
    };
    const run = async (action: string, files: { valuesFile: string; overlayDir: string }) => {
      await applyRoles();
      await cluster.kubectl([
        '-n',
        NAMESPACE,
        'delete',
        'lease',
        'istio-installer-lock',
        '--ignore-not-found',
      ]);
      return runInstaller(
        action,
        files.valuesFile,
        files.overlayDir,
        kubeconfig,
        grants,
        action === 'uninstall',
      );
    };
    let previous: Awaited<ReturnType<typeof inputs>> | undefined;
    for (const step of steps) {
      const files = await inputs(step);
      for (let attempt = 1; ; attempt++) {
        if (attempt > 80) throw new Error(`${step.label}: no success after 80 runs`);
        if (step.action === 'uninstall' && attempt > 1 && previous) {
          // A denied uninstall stops half way, and the installer cannot resume one (istioctl finds no revision once
          // the injector webhook is gone): forget its record and install again before the next try.
          await cluster.kubectl([
            '-n',
            NAMESPACE,
            'delete',
            'configmap',
            'istio-installer-state',
            '--ignore-not-found',
          ]);
          // The deletions of the failed try finish in the background (garbage collection): give them a moment.
          let again = { code: -1, log: '' };
          for (let i = 0; i < 3 && again.code !== 0; i++) {
            await new Promise((r) => setTimeout(r, 5000));
            again = await run('install', previous);
          }
          if (again.code !== 0)
            throw new Error(`re-install before ${step.label} failed:\n${again.log.slice(-3000)}`);
        }
        const { code, added, log } = await run(step.action, files);
        say(
          `${step.label}, run ${attempt}: exit ${code}, ${added.length} new grant(s)${added.map((g) => `\n  + ${g.scope} ${g.verb} ${g.resource}.${g.group}${g.name ? ` ${g.name}` : ''}`).join('')}`,
        );
        if (added.length > 0) continue;
        if (code !== 0) throw new Error(`${step.label} failed without a denial:\n${log.slice(-3000)}`);
        break;
      }
      if (step.action === 'install') previous = files;
    }
    const all = [...grants.values()].sort((a, b) => key(a).localeCompare(key(b)));
    process.stdout.write(
      dump(
        { clusterRules: roleRules(all, 'cluster'), namespaceRules: roleRules(all, 'namespace') },
        { flowLevel: 3 },
      ),
    );
  } finally {
    await cluster.stop();
    rmSync(work, { recursive: true, force: true });
  }

  async function runInstaller(
    action: string,
    valuesFile: string,
    overlayDir: string,
    kubeconfig: string,
    known: Map<string, Grant>,
    letFinish: boolean,
  ) {
    const env = {
      PATH: process.env.PATH ?? '',
      KUBECONFIG: kubeconfig,
      ISTIO_NAMESPACE: NAMESPACE,
      RELEASE_NAME: 'rancher-istio',
      VALUES_FILE: valuesFile,
      OVERLAY_DIR: overlayDir,
      HOME: mkdtempSync(join(homedir(), '.cache', 'rancher-istio', 'rbac-measure-home-')),
      ISTIOCTL_DIR: imageIstioctlDir(),
      ISTIO_INSTALLER_LOCK_SECONDS: '8',
    };
    const child = spawn(process.execPath, ['bin/istio-installer.js', 'run', '--action', action], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const added: Grant[] = [];
    const log: string[] = [];
    let stopping = false;
    const lines = createInterface({ input: child.stderr });
    child.stdout.on('data', (d: Buffer) => log.push(d.toString()));
    const exited = new Promise<number>((resolve) =>
      child.on('exit', (code, signal) => resolve(code ?? (signal ? -1 : 0))),
    );
    for await (const line of lines) {
      log.push(`${line}\n`);
      for (const grant of deniedGrants(line, NAMESPACE)) {
        if (known.has(key(grant))) continue;
        known.set(key(grant), grant);
        added.push(grant);
      }
      // A denied watch retries until its timeout: stop early, except an uninstall, which is left to finish so that it
      // never stops half way (a half-done uninstall leaves a state the next run cannot read).
      if (added.length > 0 && !letFinish && !stopping && child.pid) {
        stopping = true;
        setTimeout(() => {
          try {
            process.kill(-(child.pid ?? 0), 'SIGTERM');
          } catch {
            // already gone
          }
        }, 2000);
      }
    }
    rmSync(env.HOME, { recursive: true, force: true });
    return { code: await exited, added, log: log.join('') };
  }
}

if (process.argv[1]?.endsWith('measure-rbac.ts')) {
  main().catch((err: unknown) => {
    say(err instanceof Error ? err.message : String(err));
    process.exitCode = 1;
  });
}
