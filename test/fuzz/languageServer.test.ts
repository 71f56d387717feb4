/*
 * Language-server fuzzing over the real protocol (issue 16): the bundled server in its own process,
 * random documents in both syntaxes and every line-ending variant, random incremental edits
 * (positions past the ends too, CR/LF/CRLF in the inserted text, surrogate pairs), every request
 * the server offers at random positions (some cancelled right away), malformed messages and
 * parameters. Checked: the process lives, every request is answered within the limit, every range
 * in an answer is inside the document (LSP positions, as vscode-languageserver-textdocument counts
 * them), and the incrementally edited document answers exactly as the same text opened fresh.
 */
import * as assert from 'node:assert/strict';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { LspProcess, type Answer } from './support/lspProcess';
import { rng, type Rng } from './support/rng';
import { cases, progress, report, SEED } from './support/scale';
import { dress, EOL_VARIANTS, randomSource, type Syntax } from './support/sources';

interface Pos { line: number; character: number }
interface Rng2 { start: Pos; end: Pos }

function lineLengths(doc: TextDocument): number[] {
  const out: number[] = [];
  for (let l = 0; l < doc.lineCount; l++) {
    const t = doc.getText({ start: { line: l, character: 0 }, end: { line: l + 1, character: 0 } });
    out.push(t.replace(/(\r\n|\r|\n)$/, '').length);
  }
  return out;
}

/** Every range found in an answer (any object with start/end positions), with where it was. */
function collectRanges(x: unknown, where: string, out: Array<{ where: string; range: Rng2 }>, uri: string): void {
  if (Array.isArray(x)) { x.forEach((y, i) => collectRanges(y, `${where}[${i}]`, out, uri)); return; }
  if (typeof x !== 'object' || x === null) return;
  const o = x as Record<string, unknown>;
  // A location in another file (an include) is not this document's.
  if (typeof o.uri === 'string' && o.uri !== uri) return;
  if (typeof o.targetUri === 'string' && o.targetUri !== uri) return;
  const isPos = (p: unknown) => typeof p === 'object' && p !== null && typeof (p as Pos).line === 'number' && typeof (p as Pos).character === 'number';
  if (isPos(o.start) && isPos(o.end)) out.push({ where, range: o as unknown as Rng2 });
  for (const [k, v] of Object.entries(o)) {
    if (k === 'changes' && typeof v === 'object' && v !== null) {
      for (const [u, edits] of Object.entries(v)) if (u === uri) collectRanges(edits, `${where}.changes`, out, uri);
      continue;
    }
    if (k === 'data' && where.endsWith('semanticTokens')) continue;
    collectRanges(v, `${where}.${k}`, out, uri);
  }
}

function outside(r: Rng2, lengths: number[]): string | undefined {
  const bad = (p: Pos) => !Number.isInteger(p.line) || !Number.isInteger(p.character) || p.line < 0 || p.line >= lengths.length || p.character < 0 || p.character > lengths[p.line];
  if (bad(r.start) || bad(r.end)) return 'outside the document';
  if (r.start.line > r.end.line || (r.start.line === r.end.line && r.start.character > r.end.character)) return 'end before start';
  return undefined;
}

/** Ranges of an answer outside the document (semantic tokens decoded; folding ranges by line). */
function badRanges(method: string, result: unknown, doc: TextDocument): string[] {
  const lengths = lineLengths(doc);
  const problems: string[] = [];
  if (method === 'textDocument/semanticTokens/full' && result && Array.isArray((result as { data: number[] }).data)) {
    const d = (result as { data: number[] }).data;
    let line = 0, ch = 0;
    for (let i = 0; i + 4 < d.length + 1; i += 5) {
      line += d[i]; ch = d[i] === 0 ? ch + d[i + 1] : d[i + 1];
      if (line >= lengths.length || ch + d[i + 2] > lengths[line]) problems.push(`semantic token ${line}:${ch}+${d[i + 2]} outside the document`);
    }
    return problems;
  }
  if (method === 'textDocument/foldingRange' && Array.isArray(result)) {
    for (const f of result as Array<{ startLine: number; endLine: number }>) if (f.startLine < 0 || f.endLine >= lengths.length || f.startLine > f.endLine) problems.push(`folding ${f.startLine}-${f.endLine} outside`);
    return problems;
  }
  const ranges: Array<{ where: string; range: Rng2 }> = [];
  collectRanges(result, method, ranges, doc.uri);
  for (const { where, range } of ranges) {
    const why = outside(range, lengths);
    if (why) problems.push(`${where}: ${JSON.stringify(range)} ${why} (${lengths.length} lines)`);
  }
  return problems;
}

const INSERTS = ['\n', '\r\n', '\r', 'cli', 'popfd', ' ', ';', 'mov eax, cr0\n', '%macro M 0\n', '%endmacro\r\n', '/*', '*/', 'lbl:', '.l:', '\t', '\ud83d\ude00', 'é',
  '%rep 1000000000\nnop\n%endrep\n', '.rept 1000000000\nnop\n.endr\n', '%macro R 0\nR\nR\n%endmacro\nR\n', 'x equ 4\n', '[', ']', ',', '"', "'", '\\'];

function randomPosition(r: Rng, lengths: number[]): Pos {
  if (r.chance(0.03)) return { line: lengths.length + r.int(5), character: r.int(10) };
  if (r.chance(0.03)) return { line: r.int(lengths.length), character: 1000 + r.int(10) };
  const line = r.int(lengths.length);
  return { line, character: r.int(lengths[line] + 1) };
}

function randomInsert(r: Rng): string {
  const n = r.chance(0.1) ? 0 : 1 + r.int(3);
  let s = '';
  for (let i = 0; i < n; i++) s += r.pick(INSERTS);
  if (r.chance(0.002)) s += 'mov eax, ' + '1+'.repeat(30_000) + '1\n';
  return s;
}

const REQUESTS = ['textDocument/hover', 'textDocument/completion', 'textDocument/signatureHelp', 'textDocument/definition', 'textDocument/references',
  'textDocument/prepareRename', 'textDocument/rename', 'textDocument/documentSymbol', 'workspace/symbol', 'textDocument/semanticTokens/full',
  'textDocument/foldingRange', 'textDocument/codeLens', 'textDocument/codeAction', 'textDocument/documentLink', 'textDocument/diagnostic', 'completionItem/resolve', 'popek/unknownRequest'];

function paramsFor(method: string, uri: string, r: Rng, lengths: number[]): unknown {
  const pos = randomPosition(r, lengths);
  const td = { uri };
  switch (method) {
    case 'textDocument/references': return { textDocument: td, position: pos, context: { includeDeclaration: r.chance(0.5) } };
    case 'textDocument/rename': return { textDocument: td, position: pos, newName: r.pick(['x', 'new_name', '', '1bad', 'a b']) };
    case 'workspace/symbol': return { query: r.pick(['', 'l', 'start', 'x']) };
    case 'textDocument/codeAction': {
      const end = randomPosition(r, lengths);
      const [s, e] = end.line < pos.line || (end.line === pos.line && end.character < pos.character) ? [end, pos] : [pos, end];
      return { textDocument: td, range: { start: s, end: e }, context: { diagnostics: [], only: r.chance(0.5) ? ['source.fixAll'] : undefined } };
    }
    case 'textDocument/completion': return { textDocument: td, position: pos, context: { triggerKind: 1 } };
    case 'completionItem/resolve': return { label: r.pick(['cli', 'mov', 'eax', 'nonsense']), data: r.chance(0.5) ? { kind: 'x' } : undefined };
    case 'textDocument/documentSymbol': case 'textDocument/semanticTokens/full': case 'textDocument/foldingRange': case 'textDocument/codeLens':
    case 'textDocument/documentLink': case 'textDocument/diagnostic': return { textDocument: td };
    default: return { textDocument: td, position: pos };
  }
}

/** Parameters no client should send: the server answers (an error or empty) and lives on. */
const BAD_PARAMS: unknown[] = [null, {}, { textDocument: null }, { textDocument: { uri: 5 } }, { textDocument: { uri: 'file:///nope.gasm' }, position: { line: 'a', character: -1 } },
  { textDocument: { uri: 'file:///nope.gasm' }, position: { line: 1e12, character: 1e12 } }, [1, 2], 'string'];

const frame = (body: string, extra = '') => `Content-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;
const MALFORMED = [
  frame('{"broken"'),
  frame('[1,2,3]'),
  frame('{"jsonrpc":"2.0"}'),
  frame('{"jsonrpc":"2.0","id":987654,"result":1}'),
  frame('{"jsonrpc":"2.0","method":"textDocument/didChange","params":{"textDocument":{"uri":"file:///x"},"contentChanges":[{"text":null}]}}'),
  frame('{}', 'Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n'),
  frame('\u00ff\u00fe garbage \u0000'),
  'X-Nonsense: 1\r\n\r\n',
];

function diffItems(a: unknown, b: unknown): string {
  const items = (x: unknown) => ((x as { items?: unknown[]; data?: unknown[] })?.items ?? (x as { data?: unknown[] })?.data ?? (Array.isArray(x) ? x : [])).map((i) => JSON.stringify(i));
  const A = items(a), B = items(b);
  return `incremental only: ${A.filter((x) => !B.includes(x)).slice(0, 5).join(' ')} | fresh only: ${B.filter((x) => !A.includes(x)).slice(0, 5).join(' ')}`;
}

/** An answer without what names the document (its uri or path: the fresh copy has its own). */
function strip(x: unknown): unknown {
  return JSON.parse(JSON.stringify(x, (k, v) => (k === 'resultId' || k === 'uri' ? undefined : v)).replace(/fuzz\/fresh\//g, 'fuzz/'));
}

describe('fuzz: language server over the real protocol', function () {
  this.timeout(0);
  const documents = cases(4, 3500);
  it(`${documents} documents with random edits, requests and malformed messages`, async () => {
    const r = rng(SEED + 1);
    const failures: string[] = [];
    const fail = (what: string) => { if (failures.length < 20) failures.push(what); };
    const counts = { documents: 0, edits: 0, requests: 0, cancelled: 0, malformed: 0, freshComparisons: 0, rangesChecked: 0, starvedButAnswered: 0 };
    let server = new LspProcess({ mode: 'paravirtual', cost: 'modern', maxNumberOfProblems: 1000 });
    await server.start();
    const finish = async (s: LspProcess) => {
      counts.requests += s.requests;
      counts.starvedButAnswered += s.starvedButAnswered;
      if (s.exited !== undefined) fail(`server exited (${s.exited}): ${s.stderr.slice(-2000)}`);
      for (const h of s.hangs) fail(`no answer in time: ${h}`);
      await s.stop();
    };
    for (let n = 0; n < documents; n++) {
      // A fresh server now and then (settings per server: a random technique).
      if (n > 0 && n % 200 === 0) {
        await finish(server);
        server = new LspProcess({ mode: r.pick(['native', 'trap-and-emulate', 'binary-translation', 'paravirtual', 'hardware-assisted']), cost: 'modern', maxNumberOfProblems: 1000 });
        await server.start();
      }
      const syntax: Syntax = r.chance(0.7) ? 'nasm' : 'att';
      const languageId = syntax === 'nasm' ? 'popek-nasm' : 'popek-gas';
      const ext = syntax === 'nasm' ? 'gasm' : 'S';
      const uri = `file:///fuzz/doc${n}.${ext}`;
      let doc = TextDocument.create(uri, languageId, 1, dress(randomSource(r, syntax), r.pick(EOL_VARIANTS), r));
      await server.notify('textDocument/didOpen', { textDocument: { uri, languageId, version: 1, text: doc.getText() } });
      counts.documents++;
      const check = async (method: string, params: unknown, cancel: boolean) => {
        const a: Answer = await server.request(method, params, 10_000, cancel ? 0 : undefined);
        if (cancel) counts.cancelled++;
        if (a.hung) return;
        if (!a.ok) {
          // Errors are answers; only these codes are expected from a healthy server.
          if (![-32601, -32800, -32602].includes(a.error!.code)) fail(`${method} answered error ${a.error!.code} ${a.error!.message}`);
          return;
        }
        const bad = badRanges(method, a.result, doc);
        counts.rangesChecked++;
        if (bad.length) fail(`${method}: ${bad.slice(0, 3).join('; ')} — document ${n} ${JSON.stringify(doc.getText()).slice(0, 3000)} after the edits ${JSON.stringify(recent).slice(0, 3000)}`);
      };
      const edits = 10 + r.int(40);
      const recent: unknown[] = [];
      for (let e = 0; e < edits; e++) {
        const lengths = lineLengths(doc);
        const changes: Array<{ range?: Rng2; text: string }> = [];
        const k = r.chance(0.15) ? 2 + r.int(3) : 1;
        for (let c = 0; c < k; c++) {
          const ls = c === 0 ? lengths : lineLengths(changes.reduce((d, ch) => TextDocument.update(d, [ch.range ? { range: { start: d.positionAt(d.offsetAt(ch.range.start)), end: d.positionAt(d.offsetAt(ch.range.end)) }, text: ch.text } : ch], 0), TextDocument.create(uri, languageId, 0, doc.getText())));
          if (r.chance(0.01)) { changes.push({ text: dress(randomSource(r, syntax), r.pick(EOL_VARIANTS), r) }); continue; }
          let s = randomPosition(r, ls), t = r.chance(0.5) ? s : randomPosition(r, ls);
          if (t.line < s.line || (t.line === s.line && t.character < s.character)) [s, t] = [t, s];
          changes.push({ range: { start: s, end: t }, text: randomInsert(r) });
        }
        // The text as LSP defines it: positions past an end stand for that end (the mirror applies
        // them as real positions, since TextDocument's incremental line table takes them literally).
        const version = doc.version + 1;
        for (const c of changes) doc = TextDocument.update(doc, [c.range ? { range: { start: doc.positionAt(doc.offsetAt(c.range.start)), end: doc.positionAt(doc.offsetAt(c.range.end)) }, text: c.text } : c], version);
        recent.push(changes);
        if (recent.length > 4) recent.shift();
        await server.notify('textDocument/didChange', { textDocument: { uri, version: doc.version }, contentChanges: changes });
        counts.edits++;
        if (r.chance(0.35)) {
          const method = r.pick(REQUESTS);
          await check(method, paramsFor(method, uri, r, lineLengths(doc)), r.chance(0.1));
        }
        if (r.chance(0.01)) {
          // Malformed: bytes that are not a message, then parameters no client sends.
          await server.raw(r.pick(MALFORMED));
          const method = r.pick(REQUESTS);
          await server.request(method, r.pick(BAD_PARAMS), 10_000);
          await server.notify('textDocument/didChange', r.pick([{ textDocument: { uri }, contentChanges: 'x' }, { textDocument: { uri, version: 0 }, contentChanges: [{ range: { start: { line: 'a' } }, text: 1 }] }, null]));
          await server.notify('textDocument/didOpen', r.pick([{ textDocument: { uri: 'file:///fuzz/bad.gasm', text: 5 } }, null, { textDocument: null }]));
          await server.notify('textDocument/didClose', { textDocument: { uri: 'file:///fuzz/never-opened.gasm' } });
          counts.malformed++;
        }
      }
      // Incremental = fresh: the same text opened anew answers the same.
      if (n % 2 === 0 || FULL()) {
        const freshUri = `file:///fuzz/fresh/doc${n}.${ext}`;
        await server.notify('textDocument/didOpen', { textDocument: { uri: freshUri, languageId, version: 1, text: doc.getText() } });
        for (const method of ['textDocument/diagnostic', 'textDocument/semanticTokens/full', 'textDocument/documentSymbol', 'textDocument/foldingRange']) {
          const a = await server.request(method, { textDocument: { uri } });
          const b = await server.request(method, { textDocument: { uri: freshUri } });
          if (a.ok && b.ok) {
            for (const bad of badRanges(method, a.result, doc)) fail(`${method}: ${bad}`);
            try { assert.deepEqual(strip(a.result), strip(b.result)); } catch { fail(`${method}: incremental differs from fresh for ${JSON.stringify(doc.getText()).slice(0, 600)}: ${diffItems(a.result, b.result)}`); }
          }
        }
        counts.freshComparisons++;
        await server.notify('textDocument/didClose', { textDocument: { uri: freshUri } });
      }
      await server.notify('textDocument/didClose', { textDocument: { uri } });
      if (n % 100 === 99) progress('language server', { ...counts, requests: counts.requests + server.requests, hangs: server.hangs.length, failures: failures.length });
      if (server.exited !== undefined) { fail(`server died: ${server.stderr.slice(-2000)}`); break; }
    }
    const maxMs = server.maxMs;
    if (process.env.POPEK_FUZZ_SCALE) process.stdout.write(`  slowest answer of the last server: ${server.slowest} ${Math.round(maxMs)} ms\n`);
    await finish(server);
    report('language server', { ...counts, documentsAndEdits: counts.documents + counts.edits, maxAnswerMs: Math.round(maxMs), failures: failures.length });
    assert.deepEqual(failures, []);
  });
});

function FULL(): boolean { return process.env.POPEK_FUZZ_SCALE !== undefined; }
