// The container tier names what keeps Podman from running a container, from the messages Podman 4.3 prints here.
import { containersConf, diagnosePodmanFailure, WORKING_CONF } from '../container/podman.js';

describe('diagnosePodmanFailure', () => {
  test.each([
    [
      'ulimits',
      'Error: runc: runc create failed: unable to start container process: error during container init: error setting rlimits for ready process: error setting rlimit type 7: operation not permitted: OCI permission denied',
    ],
    [
      'cgroups',
      'time="2026-12-03T08:39:44Z" level=warning msg="Failed to add conmon to systemd sandbox cgroup: dial unix /run/systemd/private: connect: no such file or directory"\nError: OCI runtime error: runc: runc create failed: systemd not running on this host, cannot use systemd cgroups manager',
    ],
    [
      'cgroups',
      'Error: OCI runtime error: crun: cgroups in hybrid mode not supported, drop all controllers from cgroupv2',
    ],
    ['runtime', 'Error: default OCI runtime "crun" not found: invalid argument'],
    ['unknown', 'Error: something else entirely'],
  ])('%s: %s', (piece, stderr) => {
    const diagnosis = diagnosePodmanFailure(stderr);
    expect(diagnosis.piece).toBe(piece);
    // One line, starting with the piece, quoting Podman's own error line.
    expect(diagnosis.message).not.toContain('\n');
    if (piece !== 'unknown') expect(diagnosis.message.startsWith(`${piece}: `)).toBe(true);
    expect(diagnosis.message).toContain(
      stderr
        .split('\n')
        .find((l) => l.startsWith('Error:'))
        ?.slice(0, 60),
    );
  });
});

describe('containersConf', () => {
  test('the working settings: no default ulimits, runc, cgroupfs', () => {
    const conf = containersConf(WORKING_CONF);
    expect(conf).toMatch(/^\[containers\]\ndefault_ulimits = \[\]$/m);
    expect(conf).toContain('runtime = "runc"');
    expect(conf).toContain('cgroup_manager = "cgroupfs"');
  });

  test('keeping the default ulimits leaves the key out', () => {
    expect(containersConf({ ...WORKING_CONF, defaultUlimits: true })).not.toContain('default_ulimits');
  });
});
