// Runs inside the rig's network namespace for one served pod: probes its HTTP readiness URL as a kubelet does (the
// probe's initial delay, period, timeout and success/failure thresholds) and prints the verdict, "ready" or
// "unready", after every probe; the process kubelet turns a change of it into the pod's Ready condition (and a verdict
// repeated after a container restart sets it again).
import { get } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

const [url, ...numbers] = process.argv.slice(2);
const [initialDelaySeconds, periodSeconds, timeoutSeconds, successThreshold, failureThreshold] =
  numbers.map(Number);
const report = (state) => process.stdout.write(`${state}\n`);

/** One probe: true for a 2xx/3xx answer within the timeout. */
const probe = () =>
  new Promise((resolve) => {
    const req = get(url, { timeout: timeoutSeconds * 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode >= 200 && res.statusCode < 400);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(false));
  });

process.on('SIGTERM', () => process.exit(0));
// A kubelet starts a container unready and counts consecutive outcomes: one slow answer under load does not flip it.
let ready = false;
let streak = 0;
let last;
report('unready');
await sleep(initialDelaySeconds * 1000);
for (;;) {
  const started = Date.now();
  const ok = await probe();
  streak = ok === last ? streak + 1 : 1;
  last = ok;
  if (!ready && ok && streak >= successThreshold) ready = true;
  else if (ready && !ok && streak >= failureThreshold) ready = false;
  report(ready ? 'ready' : 'unready');
  await sleep(Math.max(0, periodSeconds * 1000 - (Date.now() - started)));
}
