/*
 * Inline values: what each line shows (registers named, flags read, memory operands), and that the
 * adapter evaluates every one of them at a real stop to what the Registers / EFLAGS scopes and a
 * readMemory of the operand's address say (over the debug adapter protocol).
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import type { DebugClient } from '@vscode/debugadapter-testsupport';
import { flagsRead, inlineTargets, linesToAnnotate } from '../../client/inlineValueTargets';
import { parseExpression } from '../../debugger/runtime/expression';
import { example, fixture, launchToStop, lineOf, scope, send, startClient } from '../debugger/support';

const exprs = (line: string, syntax: 'nasm' | 'gas' = 'nasm') => inlineTargets(line, syntax).map((t) => t.expression);

describe('client: inline values', () => {
  it('names the registers an instruction uses, its memory operands sized by the register, the flags its condition reads', () => {
    assert.deepEqual(exprs('    mov [vendor + 4], edx'), ['edx', 'dword [vendor+4]']);
    assert.deepEqual(exprs('.loop: mov al, [esi]        ; next byte'), ['al', 'esi', 'byte [esi]']);
    assert.deepEqual(exprs('    movzx eax, word [ebx+ecx*2]'), ['eax', 'ebx', 'ecx', 'word [ebx+ecx*2]']);
    assert.deepEqual(exprs('    jnz .loop'), ['ZF']);
    assert.deepEqual(exprs('    jle done'), ['ZF', 'SF', 'OF']);
    assert.deepEqual(exprs('    adc eax, ebx'), ['eax', 'ebx', 'CF']);
    assert.deepEqual(exprs('    loop .again'), ['ecx']);
    assert.deepEqual(exprs('    out DEBUG_EXIT, al          ; power off'), ['al']);
    assert.deepEqual(exprs('    mov ax, 0x10 ; eax in a comment'), ['ax']);
    assert.deepEqual(exprs('    mov ds, ax'), ['ds', 'ax']);
    assert.deepEqual(exprs('message: db "eax ebx", 0'), []);
    assert.deepEqual(exprs('    mov [es:edi], al'), ['es', 'edi', 'al'], 'a segment override is not an address the console computes');
    assert.deepEqual(exprs('    movl %eax, 4(%ebx)   # store', 'gas'), ['eax', 'ebx']);
    assert.deepEqual(exprs('    adcl $0, %ecx', 'gas'), ['ecx', 'CF']);
    assert.deepEqual(flagsRead('cmovbe'), ['CF', 'ZF']);
    assert.deepEqual(flagsRead('mov'), []);
  });

  it('the columns of each value are the operand it stands for', () => {
    const line = '    mov [vendor + 8], ecx';
    for (const t of inlineTargets(line, 'nasm')) assert.match(line.slice(t.start, t.end), t.expression === 'ecx' ? /^ecx$/ : /^\[vendor \+ 8\]$/);
  });

  it('every value on every line of the examples is an expression the Debug Console parses', () => {
    for (const name of ['hello.gasm', 'critical.gasm', 'compute.gasm', 'paging.gasm', 'rings.gasm', 'timer.gasm']) {
      for (const line of fs.readFileSync(example(name), 'utf8').split('\n')) {
        for (const t of inlineTargets(line, 'nasm')) assert.doesNotThrow(() => parseExpression(t.expression), `${name}: ${line} → ${t.expression}`);
      }
    }
  });

  it('annotates the function the stop is in, up to the stop line, within the visible range', () => {
    const lines = ['start:', '  mov eax, 1', 'puts:', '  mov al, [esi]', '.next:', '  inc esi', '  ret'];
    assert.deepEqual(linesToAnnotate(lines, 5, { start: 0, end: 6 }), [2, 3, 4, 5], 'from puts: (not the local .next) to the stop');
    assert.deepEqual(linesToAnnotate(lines, 5, { start: 4, end: 6 }), [4, 5]);
    assert.deepEqual(linesToAnnotate(lines, 1, { start: 0, end: 6 }), [0, 1]);
  });

  describe('evaluated by the adapter at a stop', function () {
    this.timeout(60_000);
    let dc: DebugClient;
    beforeEach(async () => { dc = await startClient(); });
    afterEach(async () => { await dc.stop(); });

    it('registers, flags and memory operands evaluate to the Registers and EFLAGS scopes and the guest memory', async () => {
      const file = fixture('frames.gasm');
      const text = fs.readFileSync(file, 'utf8').split('\n');
      // A stop inside a function with a memory operand: the first `[`-line after a label.
      const at = text.findIndex((l, i) => i > 0 && /^\s+\w+.*\[(?!.*:)[^\]]+\]/.test(l) && !/^\s*(?:db|dd|dw)/.test(l.trim()));
      assert.ok(at > 0, 'frames.gasm has a line with a memory operand');
      const line = lineOf(file, text[at].trim());
      await launchToStop(dc, { program: file, mode: 'trap-and-emulate', stopOnEntry: false }, { breakpoints: [{ path: file, breakpoints: [{ line }] }] });
      const regs = await scope(dc, 'Registers'), flags = await scope(dc, 'EFLAGS');
      const targets = inlineTargets(text[at], 'nasm');
      assert.ok(targets.some((t) => t.expression.includes('[')), `${text[at]}: a memory operand`);
      for (const t of targets) {
        const r = await dc.evaluateRequest({ expression: t.expression, frameId: 0, context: 'watch' });
        const value = Number(/^(0x[0-9a-f]+|\d+)/i.exec(r.body.result)![1]);
        const reg = regs.get(t.expression), flag = flags.get(t.expression);
        if (reg) assert.equal(value, parseInt(reg.value, 16), t.expression);
        else if (flag) assert.equal(value, Number(flag.value), t.expression);
        else if (t.expression.includes('[')) {
          // The operand's address, then the bytes there as the protocol's readMemory returns them.
          const size = { byte: 1, word: 2, dword: 4 }[/^(\w+)/.exec(t.expression)![1] as 'byte' | 'word' | 'dword'];
          const addr = await dc.evaluateRequest({ expression: t.expression.replace(/^\w+ \[(.*)\]$/, '$1'), frameId: 0, context: 'watch' });
          const mem = await send<{ body: { data: string } } & import('@vscode/debugprotocol').DebugProtocol.Response>(dc, 'readMemory', { memoryReference: addr.body.memoryReference, count: size });
          const bytes = Buffer.from(mem.body.data, 'base64');
          assert.equal(value, bytes.readUIntLE(0, size), t.expression);
        } else {
          // A register the scope shows only as part of a wider one (al, ax): its bits of that one.
          const wide = regs.get(`e${t.expression.replace(/[lh]$/, 'x')}`) ?? regs.get(`e${t.expression}`);
          assert.ok(wide, `${t.expression} has a 32-bit register`);
          const v32 = parseInt(wide.value, 16);
          const part = t.expression.endsWith('h') ? (v32 >>> 8) & 0xff : t.expression.endsWith('l') ? v32 & 0xff : v32 & 0xffff;
          assert.equal(value, part, t.expression);
        }
      }
    });
  });
});
