// `npm run check:chart`: scans `helm template` of the chart with checkov (a Kubernetes security scanner) and fails on
// any finding the chart's README does not name as accepted. `-- --install` first installs the pinned checkov from PyPI
// into a venv in the tool cache when it is missing (what .ci/run does).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KUBE_VERSION, toolPaths, toolsDir } from '../test/cluster/tools.js';

export const CHECKOV_VERSION = '3.3.30';
const CHART = 'charts/rancher-istio';

/**
 * Findings each scenario may keep, by check, with the count: the defaults leave NetworkPolicies off and images unpinned
 * (opt-in: `networkPolicy.enabled`, `*.image.digest`), which checkov reports per pod. The RBAC findings an Istio
 * installer cannot avoid are suppressed in the templates with their reasons (checkov counts them as skipped).
 */
const ACCEPTED: Record<string, Record<string, number>> = {
  defaults: { CKV2_K8S_6: 3, CKV_K8S_15: 3, CKV_K8S_43: 3 },
  hardened: {},
};
const SKIPPED = 3;

function checkovBinary(install: boolean): string {
  const venv = join(toolsDir(), 'checkov', CHECKOV_VERSION);
  const inVenv = join(venv, 'bin', 'checkov');
  if (process.env.CHECKOV) return process.env.CHECKOV;
  if (existsSync(inVenv)) return inVenv;
  const onPath = spawnSync('checkov', ['--version'], { encoding: 'utf8' });
  if (onPath.status === 0 && onPath.stdout.trim() === CHECKOV_VERSION) return 'checkov';
  if (!install) {
    process.stderr.write(
      `check:chart: checkov ${CHECKOV_VERSION} not found (not $CHECKOV, not ${inVenv}, not on PATH): run \`npm run check:chart -- --install\` or \`pip install checkov==${CHECKOV_VERSION}\`\n`,
    );
    process.exit(2);
  }
  process.stderr.write(`check:chart: installing checkov ${CHECKOV_VERSION} into ${venv}\n`);
  execFileSync('python3', ['-m', 'venv', venv], { stdio: 'inherit' });
  execFileSync(join(venv, 'bin', 'pip'), ['install', '-q', `checkov==${CHECKOV_VERSION}`], {
    stdio: 'inherit',
  });
  return inVenv;
}

interface CheckovReport {
  summary: { passed: number; failed: number; skipped: number };
  results: { failed_checks: { check_id: string; resource: string }[] };
}

function scan(checkov: string, scenario: string): CheckovReport {
  const rendered = execFileSync(
    toolPaths().helm3,
    [
      'template',
      'rancher-istio',
      CHART,
      '-n',
      'istio-system',
      '--kube-version',
      KUBE_VERSION,
      '-f',
      `${CHART}/ci/${scenario}-values.yaml`,
    ],
    { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 },
  );
  const dir = mkdtempSync(join(tmpdir(), 'check-chart-'));
  writeFileSync(join(dir, `${scenario}.yaml`), rendered);
  // --skip-download: no call to the vendor's platform (the checks ship in the package); exit 1 means findings.
  const run = spawnSync(
    checkov,
    [
      '-f',
      join(dir, `${scenario}.yaml`),
      '--framework',
      'kubernetes',
      '--skip-download',
      '--quiet',
      '-o',
      'json',
    ],
    { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 },
  );
  if (run.status !== 0 && run.status !== 1)
    throw new Error(`checkov exited ${run.status}: ${run.stderr.slice(-2000)}`);
  return JSON.parse(run.stdout) as CheckovReport;
}

function main(): void {
  const checkov = checkovBinary(process.argv.includes('--install'));
  let problems = 0;
  for (const [scenario, accepted] of Object.entries(ACCEPTED)) {
    const report = scan(checkov, scenario);
    const found: Record<string, number> = {};
    for (const f of report.results.failed_checks) found[f.check_id] = (found[f.check_id] ?? 0) + 1;
    const { passed, failed, skipped } = report.summary;
    process.stdout.write(
      `ci/${scenario}-values.yaml: ${passed} passed, ${failed} failed, ${skipped} skipped\n`,
    );
    for (const id of new Set([...Object.keys(found), ...Object.keys(accepted)])) {
      if ((found[id] ?? 0) === (accepted[id] ?? 0)) continue;
      problems++;
      const resources = report.results.failed_checks.filter((f) => f.check_id === id).map((f) => f.resource);
      process.stdout.write(
        `  ${id}: ${found[id] ?? 0} finding(s), ${accepted[id] ?? 0} accepted${resources.length ? `: ${resources.join(', ')}` : ''}\n`,
      );
    }
    if (skipped !== SKIPPED) {
      problems++;
      process.stdout.write(
        `  ${skipped} suppressed finding(s), ${SKIPPED} expected (the installer's RBAC)\n`,
      );
    }
  }
  if (problems > 0) {
    process.stdout.write(
      `${problems} difference(s) from the accepted findings (charts/rancher-istio/README.md)\n`,
    );
    process.exit(1);
  }
}

try {
  main();
} catch (error) {
  process.stderr.write(`check:chart: ${error instanceof Error ? error.message.trim() : String(error)}\n`);
  process.exit(1);
}
