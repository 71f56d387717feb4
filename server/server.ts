/*
 * The Popek language server: connection wiring only. Every feature lives in its own module and
 * every handler runs inside `safely` (a failing request is logged and answered empty).
 */
import {
  TextDocumentSyncKind, DidChangeConfigurationNotification,
  DocumentDiagnosticReportKind, CodeActionKind,
  type InitializeParams, type InitializeResult, type DocumentDiagnosticReport, type Range,
} from 'vscode-languageserver/node';
import { isMainThread } from 'node:worker_threads';
import { createServerConnection } from './transport';
import { DocumentStore, uriToPath } from './documents';
import { SettingsCache } from './settings';
import { DiagnosticsEngine } from './diagnostics';
import { hover } from './hover';
import { safely } from './safe';
import { costFigures } from '../core/lint/costs';
import { symbolMarkdown, definition, references, prepareRename, rename, documentSymbols, workspaceSymbols } from './navigation';
import { completion, resolveCompletion, COMPLETION_TRIGGERS } from './completion';
import { signatureHelp, SIGNATURE_TRIGGERS } from './signatureHelp';
import { semanticTokens, SEMANTIC_LEGEND } from './semanticTokens';
import { foldingRanges } from './folding';
import { codeLenses } from './codeLens';
import { codeActions, FIX_ALL, SHOW_MACRO_BODY, WRITE_XEN_HEADER, writeXenHeader } from './codeActions';
import { documentLinks } from './links';
import { runAssemblerWorker } from './assemblerWorker';

// The same bundle is the assembler thread of big documents (see assemblerWorker.ts).
if (isMainThread) startServer();
else runAssemblerWorker();

function startServer(): void {
  const connection = createServerConnection();
  const store = new DocumentStore();
  const settings = new SettingsCache(connection);
  let pullDiagnostics = false;
  let workspaceFolders: string[] = [];
  let configurationChanges = false;
  let showDocument = false;
  const log = connection.console;
  // A big file's assembler pass finishes after the fast diagnostics: have them pulled (or pushed) again.
  const diagnostics = new DiagnosticsEngine(store, (uri) => {
    if (pullDiagnostics) void connection.languages.diagnostics.refresh();
    else schedulePublish(uri);
  }, __filename);

  connection.onInitialize((params: InitializeParams): InitializeResult => {
    const caps = params.capabilities;
    settings.supported = caps.workspace?.configuration === true;
    configurationChanges = caps.workspace?.didChangeConfiguration?.dynamicRegistration === true;
    pullDiagnostics = caps.textDocument?.diagnostic !== undefined;
    showDocument = caps.window?.showDocument?.support === true;
    workspaceFolders = (params.workspaceFolders ?? (params.rootUri ? [{ uri: params.rootUri, name: 'root' }] : [])).map((f) => uriToPath(f.uri));
    store.roots = workspaceFolders;
    return {
      capabilities: {
        // The client sends only what changed; the models re-scan only the changed lines.
        textDocumentSync: { openClose: true, change: TextDocumentSyncKind.Incremental },
        // Pull diagnostics when the client can (VS Code does); push otherwise.
        diagnosticProvider: pullDiagnostics ? { interFileDependencies: true, workspaceDiagnostics: false } : undefined,
        hoverProvider: true,
        completionProvider: { triggerCharacters: COMPLETION_TRIGGERS, resolveProvider: true },
        signatureHelpProvider: { triggerCharacters: SIGNATURE_TRIGGERS, retriggerCharacters: [','] },
        definitionProvider: true,
        referencesProvider: true,
        renameProvider: { prepareProvider: true },
        documentSymbolProvider: true,
        workspaceSymbolProvider: true,
        semanticTokensProvider: { legend: SEMANTIC_LEGEND, full: true, range: false },
        foldingRangeProvider: true,
        codeLensProvider: { resolveProvider: false },
        codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix, FIX_ALL] },
        documentLinkProvider: { resolveProvider: false },
        // Opens a macro's body where a quick fix cannot rewrite it; writes the Xen constants header a
        // paravirtual fix includes (codeActions.ts).
        executeCommandProvider: { commands: [SHOW_MACRO_BODY, WRITE_XEN_HEADER] },
      },
      serverInfo: { name: 'popek', version: '0.1.0' },
    };
  });

  connection.onInitialized(() => {
    if (configurationChanges) void connection.client.register(DidChangeConfigurationNotification.type, { section: 'popek' });
  });

  // Settings changed: forget the cache and have the client pull diagnostics again (or push them).
  connection.onDidChangeConfiguration((change) => {
    settings.push(change.settings);
    settings.clear();
    if (pullDiagnostics) void connection.languages.diagnostics.refresh();
    else for (const d of store.documents.all()) schedulePublish(d.uri, true);
  });

  /** Push mode: publishes a document's diagnostics when they changed (`everything`: even if not, after a settings change). */
  async function publish(uri: string, everything = false): Promise<{ version?: number; published: boolean }> {
    try {
      const model = store.get(uri);
      if (!model) return { published: false };
      const s = await settings.get(uri);
      const version = store.textDocument(uri)?.version;
      if (everything) diagnostics.forgetPushed(uri);
      const items = diagnostics.changed(uri, model, s);
      if (items === undefined) return { version, published: false };
      await connection.sendDiagnostics({ uri, version, diagnostics: items });
      return { version, published: true };
    } catch (err) {
      log.error(`popek: diagnostics failed for ${uri}: ${(err as Error).stack ?? err}`);
      return { published: false };
    }
  }
  /** Per document, the last push decision in flight (what `popek/diagnosticsSettled` waits for). */
  const publishing = new Map<string, Promise<{ version?: number; published: boolean }>>();
  const schedulePublish = (uri: string, everything = false): void => {
    const before = publishing.get(uri) ?? Promise.resolve({ published: false });
    publishing.set(uri, before.then(() => publish(uri, everything)));
  };
  // For `popek bench`: the version whose push decision is made (sent, or unchanged and not sent). Not part of LSP.
  connection.onRequest('popek/diagnosticsSettled', (p: { uri: string }) => publishing.get(p.uri) ?? { published: false });

  // Server memory and CPU time (µs, all threads), for `popek bench` (not part of LSP).
  connection.onRequest('popek/memoryUsage', () => process.memoryUsage());
  connection.onRequest('popek/cpuUsage', () => process.cpuUsage());

  connection.languages.diagnostics.on(safely(log, 'diagnostics', { kind: DocumentDiagnosticReportKind.Full, items: [] } as DocumentDiagnosticReport, async (params) => {
    const model = store.get(params.textDocument.uri);
    if (!model) return { kind: DocumentDiagnosticReportKind.Full, items: [] } satisfies DocumentDiagnosticReport;
    return diagnostics.report(params.textDocument.uri, model, await settings.get(params.textDocument.uri), params.previousResultId) satisfies DocumentDiagnosticReport;
  }));

  store.onDidChangeContent((uri) => { if (!pullDiagnostics) schedulePublish(uri); });
  store.onDidClose((uri) => {
    settings.forget(uri);
    diagnostics.forget(uri);
    publishing.delete(uri);
    if (!pullDiagnostics) void connection.sendDiagnostics({ uri, diagnostics: [] });
  });

  const model = (uri: string) => store.get(uri);

  connection.onHover(safely(log, 'hover', null, async (p) => {
    const m = model(p.textDocument.uri);
    return m ? hover(m, p, costFigures((await settings.get(p.textDocument.uri)).cost), (name) => symbolMarkdown(store, m, name)) : null;
  }));
  connection.onCompletion(safely(log, 'completion', { isIncomplete: false, items: [] }, (p) => { const m = model(p.textDocument.uri); return m ? completion(store, m, p) : { isIncomplete: false, items: [] }; }));
  connection.onCompletionResolve(safely(log, 'completionResolve', null as never, (item) => resolveCompletion(item)));
  connection.onSignatureHelp(safely(log, 'signatureHelp', null, (p) => { const m = model(p.textDocument.uri); return m ? signatureHelp(m, p) : null; }));
  connection.onDefinition(safely(log, 'definition', [], (p) => { const m = model(p.textDocument.uri); return m ? definition(store, m, p) : []; }));
  connection.onReferences(safely(log, 'references', [], (p) => { const m = model(p.textDocument.uri); return m ? references(store, m, p) : []; }));
  connection.onPrepareRename(safely(log, 'prepareRename', null, (p) => { const m = model(p.textDocument.uri); return m ? prepareRename(m, p) : null; }));
  connection.onRenameRequest(safely(log, 'rename', null, (p) => { const m = model(p.textDocument.uri); return m ? rename(store, m, p) : null; }));
  connection.onDocumentSymbol(safely(log, 'documentSymbol', [], (p) => { const m = model(p.textDocument.uri); return m ? documentSymbols(m) : []; }));
  connection.onWorkspaceSymbol(safely(log, 'workspaceSymbol', [], (p) => workspaceSymbols(store, p.query, workspaceFolders)));
  connection.languages.semanticTokens.on(safely(log, 'semanticTokens', { data: [] }, (p) => { const m = model(p.textDocument.uri); return m ? semanticTokens(m) : { data: [] }; }));
  connection.onFoldingRanges(safely(log, 'foldingRanges', [], (p) => { const m = model(p.textDocument.uri); return m ? foldingRanges(m) : []; }));
  connection.onCodeLens(safely(log, 'codeLens', [], async (p) => { const m = model(p.textDocument.uri); return m ? codeLenses(m, (await settings.get(p.textDocument.uri)).mode) : []; }));
  connection.onCodeAction(safely(log, 'codeAction', [], async (p) => { const m = model(p.textDocument.uri); return m ? codeActions(m, p, await settings.get(p.textDocument.uri), (f) => store.modelOfPath(f)) : []; }));
  connection.onExecuteCommand(safely(log, 'executeCommand', null as boolean | null, async (p) => {
    if (p.command === WRITE_XEN_HEADER) {
      if (!writeXenHeader(p.arguments)) return false;
      // The file that includes the new header was linted before it existed ("cannot open include file").
      const written = String(p.arguments?.[0]);
      diagnostics.forget(written);
      if (pullDiagnostics) void connection.languages.diagnostics.refresh();
      else schedulePublish(written, true);
      return true;
    }
    const [uri, selection] = (p.arguments ?? []) as [unknown, Range | undefined];
    if (p.command !== SHOW_MACRO_BODY || typeof uri !== 'string' || !showDocument) return null;
    await connection.window.showDocument({ uri, selection, takeFocus: true });
    return null;
  }));
  connection.onDocumentLinks(safely(log, 'documentLinks', [], (p) => { const m = model(p.textDocument.uri); return m ? documentLinks(store, m) : []; }));

  store.listen(connection);
  connection.listen();
}
