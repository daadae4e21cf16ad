// Runs inside the rig's network namespace: accepts connections on a Unix socket and forwards each to
// 127.0.0.1:PORT there, so that processes outside reach the apiserver without the namespace getting a route out.
import { createConnection, createServer } from 'node:net';

const [socketPath, port] = process.argv.slice(2);
createServer((client) => {
  const upstream = createConnection({ host: '127.0.0.1', port: Number(port), noDelay: true });
  const close = () => {
    client.destroy();
    upstream.destroy();
  };
  for (const socket of [client, upstream]) {
    socket.on('error', close);
    socket.on('close', close);
  }
  client.pipe(upstream).pipe(client);
}).listen(socketPath);
process.on('SIGTERM', () => process.exit(0));
