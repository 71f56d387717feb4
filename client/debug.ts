/*
 * Debug wiring: F5 on a guest file with no launch.json (configuration provider), a clear error for a
 * bad configuration, and the three ways of running the adapter (inline in the extension host — the
 * default —, a separate process, or a TCP port for debugging the adapter itself).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { WALKTHROUGH, completeStep } from './walkthrough';
import { Config, SECTION } from './config';
import { DEBUG_TYPE, PopekLaunchConfig, defaultLaunchConfig, launchConfigProblems, withDefaults } from './launchConfig';
import { Log } from './log';
import { isLinkedObjectSource, kernelsBuiltFrom } from './kernelElf';

function config(scope?: vscode.ConfigurationScope): Config {
  return new Config(vscode.workspace.getConfiguration(SECTION, scope));
}

/** The guest file the user most plausibly means: the active editor's, if it is a NASM guest. */
function activeGuest(): vscode.TextDocument | undefined {
  const doc = vscode.window.activeTextEditor?.document;
  return doc?.languageId === 'popek-nasm' ? doc : undefined;
}

/** A source that is one object of a kernel: it debugs through the ELF built from it. */
function isKernelSource(doc: vscode.TextDocument): boolean {
  return doc.languageId === 'popek-gas' || (doc.languageId === 'popek-nasm' && isLinkedObjectSource(doc.getText()));
}

/** Executables are named without an extension (xv6's `kernel`) or with one of these. */
const KERNEL_NAME = /(^|\/)[^./]+$|\.(elf|bin|kernel|img|out|exe)$/i;

/** The launch configuration for the newest kernel in the workspace built from `doc`, or a message why none. */
async function kernelConfig(doc: vscode.TextDocument): Promise<vscode.DebugConfiguration | undefined> {
  const base = path.basename(doc.uri.fsPath);
  const folder = vscode.workspace.getWorkspaceFolder(doc.uri);
  const files = folder ? await vscode.workspace.findFiles(new vscode.RelativePattern(folder, '**/*'), '{**/node_modules/**,**/.git/**}', 20_000) : [];
  const [elf] = kernelsBuiltFrom(doc.uri.fsPath, files.map((f) => f.fsPath).filter((f) => KERNEL_NAME.test(f.replace(/\\/g, '/'))));
  if (!elf) {
    void vscode.window.showErrorMessage(`Popek: ${base} is one object of a kernel, and no kernel built from it is in the workspace. Build it with debug information (-g), then press F5 again, or name it as "program" in launch.json.`);
    return undefined;
  }
  if (fs.statSync(doc.uri.fsPath).mtimeMs > fs.statSync(elf).mtimeMs) {
    void vscode.window.showWarningMessage(`Popek: ${path.basename(elf)} is older than ${base}; rebuild it for the lines you see.`);
  }
  if (doc.isDirty) await doc.save();
  const c = config(doc.uri);
  const cfg = defaultLaunchConfig(elf, c.mode, c.cost);
  cfg.name = `Debug ${path.basename(elf)} (${base}, ${c.mode})`;
  return cfg as vscode.DebugConfiguration;
}

export class PopekConfigurationProvider implements vscode.DebugConfigurationProvider {
  constructor(private readonly log: Log) {}

  provideDebugConfigurations(folder: vscode.WorkspaceFolder | undefined): vscode.DebugConfiguration[] {
    const c = config(folder);
    return [{ ...defaultLaunchConfig('${file}', c.mode, c.cost), name: 'Debug guest' }];
  }

  async resolveDebugConfiguration(folder: vscode.WorkspaceFolder | undefined, debugConfiguration: vscode.DebugConfiguration): Promise<vscode.DebugConfiguration | undefined> {
    let cfg = debugConfiguration as PopekLaunchConfig;
    if (!cfg.type && !cfg.request && !cfg.name) {
      // F5 with no launch.json on one object of a kernel (.S, NASM with extern): debug the kernel.
      const active = vscode.window.activeTextEditor?.document;
      if (active && !active.isUntitled && isKernelSource(active)) return kernelConfig(active);
      // F5 with no launch.json: debug the active guest file.
      const doc = activeGuest();
      if (!doc) {
        void vscode.window.showErrorMessage('Popek: nothing to debug. Open a guest assembly file (.gasm) to debug it, or add a "popek" configuration to launch.json.');
        return undefined;
      }
      if (doc.isUntitled) {
        void vscode.window.showErrorMessage('Popek: save the guest file first; the debugger assembles it from disk.');
        return undefined;
      }
      const c = config(doc.uri);
      cfg = defaultLaunchConfig(doc.uri.fsPath, c.mode, c.cost);
    } else {
      const c = config(folder);
      cfg = withDefaults(cfg, c.mode, c.cost);
    }
    // The adapter reads the file from disk: unsaved edits would be debugged as the old text.
    const open = vscode.workspace.textDocuments.find((d) => typeof cfg.program === 'string' && d.uri.scheme === 'file' && d.uri.fsPath === cfg.program);
    if (open?.isDirty) await open.save();
    this.log.info(`debug configuration: ${JSON.stringify(cfg)}`);
    return cfg as vscode.DebugConfiguration;
  }

  resolveDebugConfigurationWithSubstitutedVariables(_folder: vscode.WorkspaceFolder | undefined, debugConfiguration: vscode.DebugConfiguration): vscode.DebugConfiguration | undefined {
    const problems = launchConfigProblems(debugConfiguration as PopekLaunchConfig, (p) => fs.existsSync(p));
    if (problems.length) {
      this.log.warn(`bad debug configuration "${debugConfiguration.name}": ${problems.join(' ')}`);
      // undefined aborts the launch; the message says what to change.
      void vscode.window.showErrorMessage(`Popek: cannot debug "${debugConfiguration.name}". ${problems.join(' ')}`, { modal: false }, 'Open launch.json')
        .then((choice) => { if (choice) void vscode.commands.executeCommand('workbench.action.debug.configure'); });
      return undefined;
    }
    return debugConfiguration;
  }
}

/** The debug adapter bundle's module shape (see the debugger's contract). */
interface AdapterModule { PopekDebugSession: new () => vscode.DebugAdapter }

export class PopekAdapterFactory implements vscode.DebugAdapterDescriptorFactory {
  constructor(private readonly context: vscode.ExtensionContext, private readonly log: Log) {}

  get adapterPath(): string { return path.join(this.context.extensionPath, 'dist', 'debugAdapter.js'); }

  createDebugAdapterDescriptor(session: vscode.DebugSession): vscode.DebugAdapterDescriptor {
    const c = config(session.workspaceFolder);
    const mode = c.adapterMode;
    if (mode === 'server') {
      this.log.info(`debug adapter: TCP 127.0.0.1:${c.adapterPort}`);
      return new vscode.DebugAdapterServer(c.adapterPort, '127.0.0.1');
    }
    if (!fs.existsSync(this.adapterPath)) {
      throw new Error(`the Popek debug adapter is not built (${this.adapterPath} is missing)`);
    }
    if (mode === 'process') {
      this.log.info(`debug adapter: process ${process.execPath} ${this.adapterPath}`);
      // In desktop VS Code process.execPath is Electron; this makes it behave as Node.
      return new vscode.DebugAdapterExecutable(process.execPath, [this.adapterPath], { env: { ELECTRON_RUN_AS_NODE: '1' } });
    }
    // A runtime require, not an import: the client bundle must not contain the debugger's code.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(this.adapterPath) as AdapterModule;
    if (typeof mod.PopekDebugSession !== 'function') throw new Error(`${this.adapterPath} does not export PopekDebugSession`);
    this.log.info('debug adapter: inline');
    return new vscode.DebugAdapterInlineImplementation(new mod.PopekDebugSession());
  }
}

/** A problem the adapter found loading the guest (debugger/runtime/program.ts LaunchProblem). */
interface LaunchProblem { file: string; line: number; column: number; severity: 'error' | 'warning'; message: string; code?: string }

/**
 * What the debugger found in the guest at launch — assembly errors (the launch stops), warnings, a
 * missing Multiboot header — in the Problems panel, next to what the language server says.
 */
export class LaunchProblems implements vscode.Disposable {
  readonly collection = vscode.languages.createDiagnosticCollection('popek-debug');
  show(file: string, problems: LaunchProblem[]): void {
    const byFile = new Map<string, vscode.Diagnostic[]>([[file, []]]);
    for (const p of problems) {
      const d = new vscode.Diagnostic(new vscode.Range(p.line, p.column, p.line, Number.MAX_SAFE_INTEGER), p.message,
        p.severity === 'error' ? vscode.DiagnosticSeverity.Error : vscode.DiagnosticSeverity.Warning);
      d.source = 'popek debug';
      if (p.code) d.code = p.code;
      byFile.set(p.file, [...(byFile.get(p.file) ?? []), d]);
    }
    for (const [f, list] of byFile) this.collection.set(vscode.Uri.file(f), list);
    if (problems.some((p) => p.severity === 'error')) void vscode.commands.executeCommand('workbench.actions.view.problems');
  }
  dispose(): void { this.collection.dispose(); }
}


/** Logs the DAP traffic at trace level, and stops with a reason at info level (for the log and the tests). */
export class PopekTrackerFactory implements vscode.DebugAdapterTrackerFactory {
  constructor(private readonly log: Log, private readonly problems: LaunchProblems) {}
  createDebugAdapterTracker(session: vscode.DebugSession): vscode.DebugAdapterTracker {
    return {
      onDidSendMessage: (m: { type?: string; event?: string; body?: { reason?: string; description?: string; text?: string; file?: string; problems?: LaunchProblem[] } }) => {
        if (m.type === 'event' && m.event === 'stopped') {
          this.log.info(`[${session.name}] stopped: ${m.body?.reason}${m.body?.description ? ` — ${m.body.description}` : ''}`);
          // The walkthrough's debug steps tick on a stop of its example: any stop, and one at a VM exit.
          const program = typeof session.configuration.program === 'string' ? session.configuration.program : undefined;
          completeStep(WALKTHROUGH.debugged, program);
          if (m.body?.reason === 'exception' && /VM exit/i.test(`${m.body.description ?? ''} ${m.body.text ?? ''}`)) completeStep(WALKTHROUGH.stoppedOnVmExit, program);
        } else if (m.type === 'event' && m.event === 'popek/problems' && m.body?.file) {
          this.problems.show(m.body.file, m.body.problems ?? []);
        } else this.log.trace(`[${session.name}] ⇐ ${JSON.stringify(m)}`);
      },
      onWillReceiveMessage: (m) => this.log.trace(`[${session.name}] ⇒ ${JSON.stringify(m)}`),
      onError: (e) => this.log.error(`[${session.name}] debug adapter error`, e),
      onExit: (code, signal) => { if (code || signal) this.log.warn(`[${session.name}] debug adapter exited (${code ?? signal})`); },
    };
  }
}

export function registerDebug(context: vscode.ExtensionContext, log: Log): void {
  const problems = new LaunchProblems();
  context.subscriptions.push(
    vscode.debug.registerDebugConfigurationProvider(DEBUG_TYPE, new PopekConfigurationProvider(log)),
    vscode.debug.registerDebugConfigurationProvider(DEBUG_TYPE, {
      // Offered in the "Run and Debug" picker when there is no launch.json.
      provideDebugConfigurations: () => {
        const doc = activeGuest();
        if (!doc || doc.isUntitled) return [];
        const c = config(doc.uri);
        return [defaultLaunchConfig(doc.uri.fsPath, c.mode, c.cost) as vscode.DebugConfiguration];
      },
    }, vscode.DebugConfigurationProviderTriggerKind.Dynamic),
    vscode.debug.registerDebugAdapterDescriptorFactory(DEBUG_TYPE, new PopekAdapterFactory(context, log)),
    problems,
    vscode.debug.registerDebugAdapterTrackerFactory(DEBUG_TYPE, new PopekTrackerFactory(log, problems)),
  );
}

/** Starts debugging a guest file in a mode (the "Debug Guest" command). */
export async function debugFile(uri: vscode.Uri, mode?: string, stopOn?: string[]): Promise<boolean> {
  const c = config(uri);
  const cfg = defaultLaunchConfig(uri.fsPath, c.mode, c.cost);
  if (mode) { cfg.mode = mode; cfg.name = `Debug ${path.basename(uri.fsPath)} (${mode})`; }
  if (stopOn?.length) cfg.stopOn = stopOn;
  return vscode.debug.startDebugging(vscode.workspace.getWorkspaceFolder(uri), cfg as vscode.DebugConfiguration);
}
