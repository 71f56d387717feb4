/*
 * The server's connection. On --stdio the message reader is one that survives a malformed header:
 * vscode-jsonrpc's stream reader, given a header block without Content-Length, reports the error
 * and stops reading what is already buffered — the next request would then wait for more bytes
 * that a client waiting for its answer never sends (a hang). This reader resumes at once. Other
 * transports (--node-ipc, as VS Code starts it; sockets) are vscode-languageserver's own.
 */
import { createConnection, ProposedFeatures, StreamMessageReader, StreamMessageWriter, type Connection } from 'vscode-languageserver/node';

class ResumingReader extends StreamMessageReader {
  protected override fireError(error: unknown): void {
    super.fireError(error);
    if (/Content-Length/.test((error as Error)?.message ?? '')) {
      // The header block is consumed; read on in what is buffered (onData of an empty chunk).
      setImmediate(() => (this as unknown as { onData(d: Uint8Array): void }).onData(new Uint8Array(0)));
    }
  }
}

export function createServerConnection(): Connection {
  if (!process.argv.includes('--stdio')) return createConnection(ProposedFeatures.all);
  const connection = createConnection(ProposedFeatures.all, new ResumingReader(process.stdin), new StreamMessageWriter(process.stdout));
  // What vscode-languageserver does for --stdio: end with the client, and keep stdout for messages.
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('close', () => process.exit(0));
  console.log = (...a: unknown[]) => connection.console.log(a.map(String).join(' '));
  console.info = console.log;
  console.warn = (...a: unknown[]) => connection.console.warn(a.map(String).join(' '));
  console.error = (...a: unknown[]) => connection.console.error(a.map(String).join(' '));
  return connection;
}
