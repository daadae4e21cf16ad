// The local image build reads what goes into the image from the Dockerfile itself, and hashes it stably.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUNDLED_ISTIO_VERSIONS } from '../../src/overlay/values-schema.js';
import {
  dockerfileArgDefault,
  dockerfileCopySources,
  inputsHash,
  realIstioctlRequired,
  REPO_ROOT,
  type ImageInputs,
} from '../container/local-image.js';

const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');

describe('the Dockerfile as the local build reads it', () => {
  test('context sources are the COPY instructions that do not copy from a stage', () => {
    expect(dockerfileCopySources(dockerfile)).toEqual([
      'package.json',
      'package-lock.json',
      'tsconfig.json',
      'tsconfig.build.json',
      'bin',
      'src',
      'docker/build-rootfs.sh',
      'docker/istio-sha256sums.txt',
      'docker/istio-installer',
    ]);
    expect(dockerfileCopySources('COPY --from=artifacts /out/ /\nCOPY --chown=1:1 a b ./dst/\n')).toEqual([
      'a',
      'b',
    ]);
  });

  test('the default Istio versions are the first ARG declaration', () => {
    expect(dockerfileArgDefault(dockerfile, 'ISTIO_VERSIONS')).toMatch(/^\d+\.\d+\.\d+( \d+\.\d+\.\d+)+$/);
    // The image bundles what the installer, the chart's kubeVersion and its RBAC count on.
    expect(dockerfileArgDefault(dockerfile, 'ISTIO_VERSIONS')).toBe(BUNDLED_ISTIO_VERSIONS.join(' '));
    expect(dockerfileArgDefault('ARG A=x\nARG A="y z"\n', 'A')).toBe('x');
    expect(dockerfileArgDefault('ARG B\n', 'A')).toBeUndefined();
  });
});

describe('inputsHash', () => {
  const inputs: ImageInputs = {
    files: [
      { path: 'b', executable: false, sha256: '2' },
      { path: 'a', executable: true, sha256: '1' },
    ],
    buildArgs: { Y: '1', X: '2' },
    baseImageIds: ['base'],
    archives: [{ version: '1.31.0', arch: 'amd64', source: 'stand-in:abc' }],
  };

  test('does not depend on the order files and build args are listed in', () => {
    expect(inputsHash({ ...inputs, files: [...inputs.files].reverse(), buildArgs: { X: '2', Y: '1' } })).toBe(
      inputsHash(inputs),
    );
  });

  test.each<[string, Partial<ImageInputs>]>([
    ['a file content', { files: [{ path: 'a', executable: true, sha256: 'changed' }] }],
    ['an executable bit', { files: [{ path: 'a', executable: false, sha256: '1' }, inputs.files[0]!] }],
    ['a build arg', { buildArgs: { X: '2', Y: '2' } }],
    ['the base image', { baseImageIds: ['other'] }],
    [
      'an archive source',
      { archives: [{ version: '1.31.0', arch: 'amd64', source: 'istioctl-from-source:1' }] },
    ],
  ])('changes with %s', (_what, change) => {
    expect(inputsHash({ ...inputs, ...change })).not.toBe(inputsHash(inputs));
  });
});

test('the container tier requires the real istioctl where the build could bundle it, and always under CI', () => {
  expect(realIstioctlRequired('1.31.0', {}, true)).toBe(true);
  expect(realIstioctlRequired('1.31.0', {}, false)).toBe(false);
  expect(realIstioctlRequired('1.31.0', { CI: 'false' }, false)).toBe(false);
  expect(realIstioctlRequired('1.31.0', { CI: 'true' }, false)).toBe(true);
  expect(realIstioctlRequired('1.31.0', { CI: '1' }, false)).toBe(true);
});
