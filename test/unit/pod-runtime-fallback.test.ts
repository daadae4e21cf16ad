// The rig's pod runtime: a fallback from podman mode in auto mode is said on stderr, a mode asked for is not.
import { fallbackNotice } from '../cluster/podman-pod.js';

test('auto mode falling back to process mode gets a line naming the reason; asked-for or podman modes none', () => {
  const fellBack = { mode: 'process' as const, reason: 'process mode (podman is not installed)' };
  expect(fallbackNotice(undefined, fellBack)).toBe(
    'rig: fell back to process mode (podman is not installed): installer pods run as host processes, not as containers of the image; RANCHER_ISTIO_POD_RUNTIME=podman requires podman mode',
  );
  expect(fallbackNotice('auto', fellBack)).toMatch(/^rig: fell back to process mode/);
  expect(fallbackNotice('process', { mode: 'process', reason: 'process mode (asked)' })).toBeUndefined();
  expect(fallbackNotice('auto', { mode: 'podman', reason: 'podman mode' })).toBeUndefined();
});
