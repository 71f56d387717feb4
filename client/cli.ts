/*
 * Runs the bundled `popek` CLI (dist/cli.js) in a child Node process: the simulator never runs in
 * the extension host, so a runaway guest or a crash cannot take the editor down, and a cancel kills it.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as vscode from 'vscode';

export interface CliResult { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

const MAX_OUTPUT = 64 * 1024 * 1024;

export class Cli {
  constructor(private readonly context: vscode.ExtensionContext) {}

  get path(): string { return this.context.asAbsolutePath('dist/cli.js'); }

  run(args: string[], token?: vscode.CancellationToken, timeoutMs = 120_000): Promise<CliResult> {
    if (!fs.existsSync(this.path)) return Promise.reject(new Error(`the popek CLI is not built (${this.path} is missing)`));
    return new Promise((resolve, reject) => {
      // process.execPath is Electron in desktop VS Code; ELECTRON_RUN_AS_NODE makes it plain Node.
      const child = spawn(process.execPath, [this.path, ...args], {
        env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
        windowsHide: true,
      });
      let stdout = '';
      let stderr = '';
      let size = 0;
      const kill = (why: string) => { stderr += `\n${why}`; child.kill('SIGKILL'); };
      const timer = setTimeout(() => kill(`popek ${args[0]} took longer than ${timeoutMs / 1000} s and was stopped`), timeoutMs);
      const sub = token?.onCancellationRequested(() => kill('cancelled'));
      const take = (chunk: Buffer, into: 'out' | 'err') => {
        size += chunk.length;
        if (size > MAX_OUTPUT) { kill('output too large'); return; }
        if (into === 'out') stdout += chunk.toString('utf8'); else stderr += chunk.toString('utf8');
      };
      child.stdout.on('data', (c: Buffer) => take(c, 'out'));
      child.stderr.on('data', (c: Buffer) => take(c, 'err'));
      child.on('error', (err) => { clearTimeout(timer); sub?.dispose(); reject(err); });
      child.on('close', (code, signal) => { clearTimeout(timer); sub?.dispose(); resolve({ code, signal, stdout, stderr }); });
    });
  }
}

/** The JSON value printed by a `--json` command: the whole output, or else its last line that parses. */
export function parseJsonOutput(stdout: string): unknown {
  const text = stdout.trim();
  try { return JSON.parse(text); } catch { /* maybe trace lines first */ }
  const lines = text.split(/\r?\n/);
  for (let i = lines.length - 1; i >= 0; i--) {
    const l = lines[i].trim();
    if (!l.startsWith('{') && !l.startsWith('[')) continue;
    try { return JSON.parse(l); } catch { /* keep looking */ }
  }
  // A pretty-printed object after trace lines: from the last line that starts one.
  for (let i = lines.length - 1; i >= 0; i--) {
    if (!/^[{[]/.test(lines[i])) continue;
    try { return JSON.parse(lines.slice(i).join('\n')); } catch { /* keep looking */ }
  }
  throw new Error('no JSON in the output');
}
