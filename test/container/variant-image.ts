// Derives variants of the product image with buildah for tests that need a site's image to lack something: the same
// image with only some of its bundled istioctls (and only their releases in its baked mirror), under a tag of its own,
// so the shared localhost/istio-installer:<version> is never overwritten.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { variantTag } from '../cluster/image.js';
import { ensureLocalImage, packageVersion } from './local-image.js';

const ISTIOCTL_DIR = 'usr/local/lib/istioctl';
const MIRROR_RELEASES = 'usr/share/istio-mirror/releases';

/**
 * `localhost/istio-installer:<variantTag>`: the product image (built or reused first, as `npm run image` does) whose
 * `$ISTIOCTL_DIR` and baked mirror hold only the Istio versions in `keep`; its `io.rancher-istio.istio-versions`
 * label says so. Reused while the product image is the same; older variants of the same kind are removed. Returns
 * the tag (the chart's `installer.image.tag`).
 */
export async function imageWithOnly(
  keep: readonly string[],
  log: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): Promise<string> {
  const product = await ensureLocalImage(log);
  const id = (await execa('podman', ['image', 'inspect', '--format', '{{.Id}}', product.tag])).stdout.trim();
  const tag = variantTag(packageVersion(), keep, id);
  const image = `localhost/istio-installer:${tag}`;
  if ((await execa('podman', ['image', 'exists', image], { reject: false })).exitCode === 0) return tag;
  const started = Date.now();
  const container = (await execa('buildah', ['from', '--pull-never', product.tag])).stdout.trim();
  try {
    // The image has no shell: its files are changed from outside, in its mounted root.
    const root = (await execa('buildah', ['mount', container])).stdout.trim();
    const bundled = (await execa('ls', [join(root, ISTIOCTL_DIR)])).stdout.split('\n').filter(Boolean);
    const missing = keep.filter((v) => !bundled.includes(v));
    if (missing.length > 0)
      throw new Error(`image: ${product.tag} does not bundle istioctl ${missing.join(', ')}`);
    for (const version of bundled.filter((v) => !keep.includes(v))) {
      rmSync(join(root, ISTIOCTL_DIR, version), { recursive: true, force: true });
      rmSync(join(root, MIRROR_RELEASES, version), { recursive: true, force: true });
    }
    // The baked mirror's index lists only what is left, so `mirror verify` of the variant passes.
    const indexFile = join(root, MIRROR_RELEASES, 'index.json');
    const index = JSON.parse(readFileSync(indexFile, 'utf8')) as { versions: { version: string }[] };
    index.versions = index.versions.filter((v) => keep.includes(v.version));
    writeFileSync(indexFile, `${JSON.stringify(index, null, 2)}\n`);
    await execa('buildah', ['umount', container]);
    await execa('buildah', [
      'config',
      '--label',
      `io.rancher-istio.istio-versions=${keep.join(' ')}`,
      container,
    ]);
    await execa('buildah', ['commit', '--quiet', container, image]);
  } finally {
    await execa('buildah', ['rm', container], { reject: false });
  }
  log(
    `image: ${image} (istioctl ${keep.join(', ')} only) derived in ${Math.round((Date.now() - started) / 1000)}s`,
  );
  const prefix = `localhost/istio-installer:${variantTag(packageVersion(), keep, '')}`;
  const all = await execa('podman', ['images', '--format', '{{.Repository}}:{{.Tag}}'], { reject: false });
  for (const stale of all.stdout.split('\n').filter((t) => t.startsWith(prefix) && t !== image))
    // One in use by another rig's container stays; it goes with the next variant made after that rig ends.
    await execa('podman', ['rmi', stale], { reject: false });
  return tag;
}
