// `mirror serve` in a container, reached from the host through a port published on 127.0.0.1 only, and the air-gapped
// flow between two real containers: an installer container gets its istioctl from a mirror container over a Podman
// network that has no route out, and verifies it by sha256.
import { createHash, randomBytes } from 'node:crypto';
import { getContainerRuntimeClient, Wait, type StartedTestContainer } from 'testcontainers';
import { execFileSync } from 'node:child_process';
import {
  createNetwork,
  ImageContainer,
  imageUnderTest,
  startOnNetwork,
  stopWithin,
  type NetworkedContainer,
} from './containers.js';

interface IndexFile {
  name: string;
  size: number;
  sha256: string;
}
interface MirrorIndexJson {
  versions: { version: string; files: IndexFile[] }[];
}

const MIRROR_DIR = '/usr/share/istio-mirror';
/** The chart's mirror Deployment gives in-flight downloads 20 s; podman stop waits a little longer before SIGKILL. */
const GRACE_SECONDS = 30;
const versions = execFileSync('podman', [
  'image',
  'inspect',
  '--format',
  '{{index .Labels "io.rancher-istio.istio-versions"}}',
  imageUnderTest(),
])
  .toString()
  .trim()
  .split(/\s+/);

describe('mirror serve in a container, through a loopback port', () => {
  let mirror: StartedTestContainer;
  let network: { name: string; remove(): Promise<void> } | undefined;
  let base: string;

  beforeAll(async () => {
    const network = `rancher-istio-test-${randomBytes(4).toString('hex')}`;
    const client = await getContainerRuntimeClient();
    // A network of our own (not Podman's default) for the published port; the container only answers on it.
    await client.network.create({
      Name: network,
      Driver: 'bridge',
      Labels: { 'io.rancher-istio.test-tier': 'true' },
    });
    mirror = await new ImageContainer()
      .withNetworkMode(network)
      .withLoopbackPort(8080)
      .withCommand(['mirror', 'serve', '--dir', MIRROR_DIR, '--port', '8080'])
      .withWaitStrategy(Wait.forHttp('/healthz', 8080).forStatusCode(200))
      .start();
    base = `http://${mirror.getHost()}:${mirror.getMappedPort(8080)}`;
  });

  afterAll(async () => {
    if (mirror) await stopWithin(mirror, GRACE_SECONDS).catch(() => undefined);
    await network?.remove();
  });

  test('the port is published on 127.0.0.1 only', async () => {
    const client = await getContainerRuntimeClient();
    const info = await client.container.getById(mirror.getId()).inspect();
    const bindings = info.HostConfig.PortBindings as Record<string, { HostIp: string }[]>;
    expect(bindings['8080/tcp']?.map((b) => b.HostIp)).toEqual(['127.0.0.1']);
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  test('answers /healthz, the index and a ranged download', async () => {
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);

    const index = (await (await fetch(`${base}/releases/index.json`)).json()) as MirrorIndexJson;
    const version = index.versions[0];
    const file = version?.files.find(
      (f) => f.name.startsWith('istioctl-') && f.name.endsWith('-linux-amd64.tar.gz'),
    );
    if (!version || !file)
      throw new Error(`no istioctl amd64 archive in the index: ${JSON.stringify(index)}`);
    const url = `${base}/istio/istio/releases/download/${version.version}/${file.name}`;

    const whole = Buffer.from(await (await fetch(url)).arrayBuffer());
    expect(whole.length).toBe(file.size);
    expect(createHash('sha256').update(whole).digest('hex')).toBe(file.sha256);

    const end = Math.min(file.size - 1, 99);
    const ranged = await fetch(url, { headers: { range: `bytes=10-${end}` } });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get('content-range')).toBe(`bytes 10-${end}/${file.size}`);
    expect(Buffer.from(await ranged.arrayBuffer()).equals(whole.subarray(10, end + 1))).toBe(true);
  });

  test('stops cleanly on podman stop, within its grace period', async () => {
    const report = await stopWithin(mirror, GRACE_SECONDS);
    expect(report.killed).toBe(false);
    expect(report.exitCode).toBe(0);
  });
});

describe('air-gapped: an installer container gets istioctl from a mirror container', () => {
  // The oldest and the newest the image carries: each download is about 100 MB, and this /tmp is a 256 MB tmpfs.
  const fetched = [versions[0] ?? '', versions.at(-1) ?? ''];
  test('over an internal Podman network, verified by sha256', async () => {
    const suffix = randomBytes(4).toString('hex');
    const network = await createNetwork(`rancher-istio-airgap-${suffix}`, { internal: true });
    const started: NetworkedContainer[] = [];
    try {
      const mirror = await startOnNetwork({
        name: `rancher-istio-mirror-${suffix}`,
        network: network.name,
        cmd: ['mirror', 'serve', '--dir', MIRROR_DIR, '--port', '8080'],
      });
      started.push(mirror);
      const url = `http://${mirror.name}:8080`;
      // The installer as the chart's Job runs it, but with no istioctl of its own (ISTIOCTL_DIR points at nothing): for
      // every version it asks the mirror, then prints what it got, the sha256 of the download and of the mirror's copy
      // baked into this image, and what the downloaded istioctl reports.
      const installer = await startOnNetwork({
        name: `rancher-istio-installer-${suffix}`,
        network: network.name,
        entrypoint: ['sh', '-c'],
        env: { ISTIOCTL_DIR: '/tmp/no-bundled-istioctl', VERSIONS: fetched.join(' ') },
        cmd: [
          `until node -e 'fetch("${url}/healthz").then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))'; do sleep 0.2; done
          for v in $VERSIONS; do
            p=$(istio-installer mirror istioctl --url ${url} --istio-version "$v") || exit 10
            echo "path $v $p"
            echo "sha $v $(sha256sum "$p" | cut -d' ' -f1) $(sha256sum "${MIRROR_DIR}/releases/$v/istioctl-$v-linux-amd64" | cut -d' ' -f1)"
            echo "ran $v $("$p" version --remote=false | tr -s '[:space:]' ' ')"
          done
          node -e 'fetch("${url}/metrics").then(r => r.text()).then(t => console.log("metrics " + t.split(String.fromCharCode(10)).filter(l => l.includes("istioctl") && !l.startsWith("#")).join(" ")))'
          node -e 'const f = require("fs").readFileSync("/proc/net/route", "utf8").split(String.fromCharCode(10)); console.log("default routes " + f.filter(l => l.split(String.fromCharCode(9))[1] === "00000000").length)'`,
        ],
      });
      started.push(installer);
      const exitCode = await installer.wait();
      const { stdout, stderr } = await installer.logs();
      expect({ exitCode, stderr }).toEqual({ exitCode: 0, stderr: expect.not.stringMatching(/error/i) });
      const lines = stdout.split('\n');
      for (const version of fetched) {
        // Downloaded into the cache under /tmp, not taken from the image.
        expect(lines).toContain(
          `path ${version} /tmp/istio-installer/istioctl/${version}/linux-amd64/istioctl`,
        );
        const sha = lines.find((l) => l.startsWith(`sha ${version} `))?.split(' ') ?? [];
        expect(sha[2]).toMatch(/^[0-9a-f]{64}$/);
        expect(sha[2]).toBe(sha[3]);
        expect(lines.find((l) => l.startsWith(`ran ${version} `))).toContain(version);
      }
      // The mirror counted the downloads, so they came from it.
      expect(lines.find((l) => l.startsWith('metrics '))).toMatch(/istioctl/);
      // No route out: the internal network gives its containers no default route, only their own subnet.
      expect(lines).toContain('default routes 0');
    } finally {
      for (const c of started.reverse()) await c.stop(5).catch(() => undefined);
      await network.remove();
    }
  });
});
