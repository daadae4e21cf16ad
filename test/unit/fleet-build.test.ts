// How `npm run tools` builds Rancher Fleet from ../shared/third-party: the archive checked against SHA256SUMS (a
// missing one fails with one line naming it), one `go build` of the three binaries with the release's ldflags, and
// Fleet's CRDs taken from the same source; and where the rig finds them.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import {
  FLEET_VERSION,
  buildFleetFromSource,
  fleetArchiveName,
  fleetCommit,
  fleetLdflags,
} from '../cluster/fleet-build.js';
import { missingTools, toolPaths } from '../cluster/tools.js';

const COMMIT = '5823543a3d33952b1c7868eb035ad8e15db420fc';
const sha = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

describe('Fleet from its source archive', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'fleet-build-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** A small archive laid out like the real one: SOURCE.txt and fleet/ with the CRD chart. */
  async function fakeArchive(): Promise<string> {
    const src = join(dir, 'src');
    mkdirSync(join(src, 'fleet', 'charts', 'fleet-crd', 'templates'), { recursive: true });
    writeFileSync(
      join(src, 'SOURCE.txt'),
      `fleet/  github.com/rancher/fleet  tag ${FLEET_VERSION}  commit ${COMMIT}\n`,
    );
    writeFileSync(join(src, 'fleet', 'charts', 'fleet-crd', 'templates', 'crds.yaml'), 'kind: CRD\n');
    const thirdParty = join(dir, 'third-party');
    mkdirSync(thirdParty);
    const archive = join(thirdParty, fleetArchiveName(FLEET_VERSION));
    await execa('tar', ['-czf', archive, '-C', src, 'SOURCE.txt', 'fleet']);
    writeFileSync(
      join(thirdParty, 'SHA256SUMS'),
      `${sha(readFileSync(archive))}  ${fleetArchiveName(FLEET_VERSION)}\n`,
    );
    return thirdParty;
  }

  test('one go build of the three binaries in fleet/, with the release ldflags; the CRDs copied beside them', async () => {
    const thirdParty = await fakeArchive();
    const out = join(dir, 'out');
    mkdirSync(out);
    const calls: { args: string[]; cwd: string }[] = [];
    await buildFleetFromSource({
      version: FLEET_VERSION,
      outDir: out,
      thirdParty,
      go: async (args, cwd) => {
        calls.push({ args, cwd });
        return '';
      },
    });
    expect(calls).toHaveLength(1);
    expect(calls[0]?.cwd).toMatch(/rancher-istio-fleet-v0\.16\.1-[^/]+\/fleet$/);
    expect(calls[0]?.args).toEqual([
      'build',
      '-trimpath',
      '-ldflags',
      fleetLdflags(FLEET_VERSION, COMMIT).join(' '),
      '-o',
      `${out}/`,
      './cmd/fleetcontroller',
      './cmd/fleetagent',
      './cmd/fleetcli',
    ]);
    expect(readFileSync(join(out, 'crds.yaml'), 'utf8')).toBe('kind: CRD\n');
  });

  test('a missing archive fails before any build, with one line naming it', async () => {
    const thirdParty = join(dir, 'third-party');
    mkdirSync(thirdParty);
    writeFileSync(join(thirdParty, 'SHA256SUMS'), '');
    const calls: string[][] = [];
    const go = async (args: string[]) => {
      calls.push(args);
      return '';
    };
    const run = buildFleetFromSource({ version: FLEET_VERSION, outDir: dir, thirdParty, go });
    await expect(run).rejects.toThrow(`needs ${join(thirdParty, 'fleet-v0.16.1-src.tar.gz')} (`);
    await expect(run.catch((e: Error) => e.message.split('\n').length)).resolves.toBe(1);
    expect(calls).toEqual([]);
  });

  test("the release's version ldflags, with the commit SOURCE.txt names", () => {
    expect(fleetCommit(`fleet/  github.com/rancher/fleet  tag v0.16.1  commit ${COMMIT}\n`)).toBe(COMMIT);
    expect(() => fleetCommit('istio/ x tag 1 commit abc\n')).toThrow('SOURCE.txt names no fleet commit');
    expect(fleetLdflags('v0.16.1', COMMIT)).toEqual([
      '-w',
      '-s',
      `-X github.com/rancher/fleet/pkg/version.GitCommit=${COMMIT}`,
      '-X github.com/rancher/fleet/pkg/version.Version=v0.16.1',
    ]);
  });

  test('the tool cache holds Fleet under fleet/<version>; only the full tool list asks for it, not a rig start', () => {
    const root = join(dir, 'cache');
    expect(toolPaths(root).fleet).toEqual({
      controller: join(root, 'fleet', 'v0.16.1', 'fleetcontroller'),
      agent: join(root, 'fleet', 'v0.16.1', 'fleetagent'),
      cli: join(root, 'fleet', 'v0.16.1', 'fleetcli'),
      crds: join(root, 'fleet', 'v0.16.1', 'crds.yaml'),
    });
    expect(missingTools(root)).toContain(join(root, 'fleet', 'v0.16.1', 'fleetcli'));
    expect(missingTools(root, '1.36').some((f) => f.includes('/fleet/'))).toBe(false);
  });
});
