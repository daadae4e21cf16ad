// Runs inside the rig's network namespace for one served pod: polls its HTTP readiness URL every second and prints
// "ready" or "unready" each time, which the process kubelet turns into the pod's Ready condition when it changes.
import { get } from 'node:http';
import { setInterval } from 'node:timers';

const [url] = process.argv.slice(2);
const report = (state) => process.stdout.write(`${state}\n`);
const probe = () => {
  const req = get(url, { timeout: 1000 }, (res) => {
    res.resume();
    report(res.statusCode >= 200 && res.statusCode < 400 ? 'ready' : 'unready');
  });
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', () => report('unready'));
};
probe();
setInterval(probe, 1000);
process.on('SIGTERM', () => process.exit(0));
