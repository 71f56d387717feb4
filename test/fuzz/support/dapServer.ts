/*
 * The bundled debug adapter (dist/debugAdapter.js) as a separate process in server mode: one
 * process, one session per connection (as `popek.debugAdapter.mode: server`). Its stderr is kept:
 * an exception that escaped a request is written there (debugAdapter.ts), so it is counted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { requireFreshBundle } from '../../support/freshBundle';
import { REPO_ROOT } from '../../support/repoRoot';

const ADAPTER = path.join(REPO_ROOT, 'dist/debugAdapter.js');

export class DapServer {
  readonly proc: ChildProcess;
  stderr = '';
  exited: number | null | undefined;
  port!: number;

  constructor() {
    requireFreshBundle(ADAPTER, ['debugger', 'core']);
    this.proc = spawn(process.execPath, [ADAPTER, '--server=0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.proc.on('exit', (code) => { this.exited = code; });
  }

  async start(): Promise<void> {
    this.port = await new Promise<number>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`the adapter did not start: ${this.stderr}`)), 20_000);
      this.proc.stderr!.on('data', (d: Buffer) => {
        this.stderr += d.toString();
        const m = /listening on 127\.0\.0\.1:(\d+)/.exec(this.stderr);
        if (m) { clearTimeout(t); resolve(Number(m[1])); }
      });
    });
  }

  /** Lines the adapter wrote about problems (escaped exceptions, internal errors), without the chatter. */
  problems(): string[] {
    return this.stderr.split('\n').filter((l) => /^popek debug adapter: /.test(l) && !/client disconnected|listening on/.test(l));
  }

  stop(): void { if (this.exited === undefined) this.proc.kill(); }
}
