/*
 * Entry point of the Popek debug adapter bundle (dist/debugAdapter.js).
 *
 *  - required as a module (the extension's inline mode): exports `PopekDebugSession`;
 *  - run by Node with no argument: a debug adapter on stdin/stdout (separate process);
 *  - run with `--server=PORT`: listens on 127.0.0.1:PORT, one session per connection (for
 *    debugging the adapter itself).
 */
import * as net from 'node:net';
import { PopekDebugSession } from './session';

export { PopekDebugSession };

function serverPort(argv: string[]): number | undefined {
  const arg = argv.find((a) => a.startsWith('--server='));
  if (!arg) return undefined;
  const port = Number(arg.slice('--server='.length));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--server needs a port number from 0 to 65535 (got ${arg})`);
  return port;
}

function main(): void {
  // A separate process reports what escaped a request instead of dying with the session.
  process.on('uncaughtException', (e) => process.stderr.write(`popek debug adapter: ${e.stack ?? e}\n`));
  process.on('unhandledRejection', (e) => process.stderr.write(`popek debug adapter: ${(e as Error)?.stack ?? e}\n`));
  const port = serverPort(process.argv.slice(2));
  if (port === undefined) {
    const session = new PopekDebugSession();
    process.on('SIGTERM', () => session.shutdown());
    session.start(process.stdin, process.stdout);
    return;
  }
  const server = net.createServer((socket) => {
    socket.on('end', () => process.stderr.write('popek debug adapter: client disconnected\n'));
    const session = new PopekDebugSession();
    session.setRunAsServer(true);
    session.start(socket, socket);
  }).listen(port, '127.0.0.1', () => {
    const a = server.address();
    process.stderr.write(`popek debug adapter listening on 127.0.0.1:${typeof a === 'object' && a ? a.port : port}\n`);
  });
}

if (require.main === module) main();
