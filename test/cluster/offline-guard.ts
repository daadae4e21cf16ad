// The cluster tier's guard (a jest setup file, run before every test file of the tier): a test file refuses to run
// where any route leads off this machine, so a rig, helm or istioctl that dials a wrong address fails locally
// instead of sending traffic out.
import { describeRoutes, readRoutes, routesOffMachine } from './netns.js';

const leaving = routesOffMachine(readRoutes('self'));
if (leaving.length > 0) {
  throw new Error(
    `the cluster tier must run without a route off this machine (found: ${describeRoutes(leaving)}); ` +
      'run it with `npm run test:cluster` (or `tsx test/cluster/offline.ts <jest command>`), which runs it in a ' +
      'network namespace that has only loopback',
  );
}
