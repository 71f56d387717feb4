/*
 * package.json's contributions agree with the client's code and with what the .vsix holds:
 * every contributed command is registered (and the reverse), menus and walkthrough steps name real
 * commands and files, and `vsce ls` (the .vscodeignore allowlist) packs every file the manifest
 * points at and no source, map or test file.
 */
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { builtinModules } from 'node:module';
import * as path from 'node:path';
import { repoRoot } from '../../scripts/gen-grammars';

const ROOT = repoRoot(__dirname);
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const c = pkg.contributes;

/** Files the manifest points at (relative, no leading ./). */
function manifestFiles(): string[] {
  const rel = (p: string) => path.normalize(p).replace(/^\.\//, '');
  return [
    ...c.languages.map((l: { configuration: string }) => rel(l.configuration)),
    ...c.grammars.map((g: { path: string }) => rel(g.path)),
    ...c.snippets.map((s: { path: string }) => rel(s.path)),
    ...c.walkthroughs.flatMap((w: { steps: Array<{ media: { markdown?: string; image?: string } }> }) => w.steps.map((s) => rel(s.media.markdown ?? s.media.image ?? ''))),
    'walkthrough/hello.gasm', // copied into the extension's storage by popek.openExample
    'media/compare.js', 'media/compare.css', 'media/popek.svg', 'media/memory.js', 'media/memory.css',
  ];
}

describe('client: manifest', () => {
  // commands.ts registers most commands with reg('…'); a view that owns its commands registers them itself.
  const clientSources = fs.readdirSync(path.join(ROOT, 'client')).filter((f) => f.endsWith('.ts')).map((f) => fs.readFileSync(path.join(ROOT, 'client', f), 'utf8')).join('\n');
  const registered = [...clientSources.matchAll(/(?:\breg|registerCommand)\('(popek\.[\w.]+)'/g)].map((m) => m[1]).sort();
  const contributed = (c.commands as Array<{ command: string; category: string; title: string }>).map((x) => x.command).sort();

  it('every contributed command is registered, and every registered one contributed', () => {
    assert.deepEqual(registered, contributed);
  });

  it('commands are in the "Popek" category with a title and an icon', () => {
    for (const cmd of c.commands) {
      assert.equal(cmd.category, 'Popek', cmd.command);
      assert.ok(cmd.title && /^\$\([\w-]+\)$/.test(cmd.icon), cmd.command);
    }
  });

  it('menus and walkthrough links name contributed commands', () => {
    for (const [menu, items] of Object.entries(c.menus as Record<string, Array<{ command: string }>>)) {
      for (const i of items) assert.ok(contributed.includes(i.command), `${menu}: ${i.command}`);
    }
    for (const step of c.walkthroughs[0].steps) {
      for (const m of String(step.description).matchAll(/\(command:([\w.]+)[?)]/g)) assert.ok(contributed.includes(m[1]), `${step.id}: ${m[1]}`);
    }
  });

  it('activation covers both languages and the debugger, and main is the bundle', () => {
    for (const e of ['onLanguage:popek-nasm', 'onLanguage:popek-gas', 'onDebugResolve:popek']) assert.ok(pkg.activationEvents.includes(e), e);
    assert.equal(pkg.main, './dist/extension.js');
  });

  it('every file the manifest points at exists', () => {
    for (const f of manifestFiles()) assert.ok(fs.existsSync(path.join(ROOT, f)), f);
  });

  it('the .vsix allowlist packs those files and no source, map or test file', function () {
    this.timeout(120_000);
    const vsce = path.join(ROOT, 'node_modules', '@vscode', 'vsce', 'vsce');
    const listed = execFileSync(process.execPath, [vsce, 'ls', '--no-dependencies'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
      .split('\n').map((l) => l.trim()).filter(Boolean);
    for (const f of [...manifestFiles(), 'package.json', 'LICENSE']) assert.ok(listed.includes(f), `${f} is not packed`);
    const wrong = listed.filter((f) => /\.(ts|map)$/.test(f) || /^(test|client|server|core|debugger|cli|scripts|examples|out|\.e2e)\//.test(f)
      || f.startsWith('node_modules/'));
    assert.deepEqual(wrong, []);
    if (fs.existsSync(path.join(ROOT, 'dist', 'extension.js'))) assert.ok(listed.includes('dist/extension.js'));
    // Every package a bundle requires at run time (esbuild externals) must be in the .vsix.
    const builtins = new Set(builtinModules);
    for (const f of listed.filter((x) => /^dist\/[^/]+\.js$/.test(x))) {
      const text = fs.readFileSync(path.join(ROOT, f), 'utf8');
      for (const m of text.matchAll(/require\(["']([^"'./][^"']*)["']\)/g)) {
        const name = m[1].startsWith('@') ? m[1].split('/').slice(0, 2).join('/') : m[1].split('/')[0];
        if (name === 'vscode' || name.startsWith('node:') || builtins.has(name)) continue;
        assert.ok(listed.some((x) => x.startsWith(`node_modules/${name}/`)), `${f} requires ${name}, which the .vsix does not pack (see .vscodeignore)`);
      }
    }
  });
});
