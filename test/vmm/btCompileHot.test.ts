/*
 * When binary translation makes host code (issue 16, the CLI fuzz's `popek compare` of a two-line
 * file without HLT): every block the guest kernel reaches is translated when first met — the VMM's
 * modelled work, its event, counters and cost — but its CCF becomes a JavaScript function only when
 * the block runs again; the first run goes through the instructions' semantics and callouts
 * (translator.ts, `runThenCompile`). Counts, not times: what was compiled, and that the guest ends
 * exactly as natively.
 */
import * as assert from 'node:assert/strict';
import type { BinaryTranslationTechnique } from '../../core/vmm/bt/binaryTranslation';
import type { Vm } from '../../core/vmm';
import { boot, guest } from './support';

const bt = (vm: Vm) => (vm.technique as BinaryTranslationTechnique).bt;

/** What the guest left behind: the ending, the count, EIP and the registers. */
function ending(vm: Vm) {
  return { outcome: vm.report().outcome, instructions: vm.cpu.icount, eip: vm.cpu.eip >>> 0, regs: [...vm.cpu.regs] };
}

describe('binary translation compiles only the blocks that run again', function () {
  this.timeout(60_000);

  it('a guest running off into zeroed RAM: every block translated, none made host code, the ending native has', () => {
    const limit = 20_000;
    const program = guest('bits 32\nmov eax, 1\n').program; // then `add [eax], al` at every new address
    const { vm } = boot(program, 'binary-translation', { maxInstructions: limit });
    vm.run(limit);
    const t = vm.report().translation;
    assert.ok(t.blocks >= limit / 64, `${t.blocks} blocks translated`);
    assert.equal(t.instructions >= limit, true, `${t.instructions} instructions translated`);
    assert.equal(bt(vm).stats.compiled, 0, 'no block ran twice: none was compiled');
    const native = boot(program, 'native', { maxInstructions: limit }).vm;
    native.run(limit);
    assert.deepEqual(ending(vm), ending(native));
  });

  it('a loop: its blocks are compiled once, on their second run, and run as host code from then on; the code before it is not', () => {
    const g = guest(`
      bits 32
      start:
        mov esp, 0x90000
        mov ecx, 300
        xor eax, eax
      again:
        add eax, ecx
        out 0x80, al          ; a callout: the block stays a CCF (no CPU region)
        loop again
        hlt
    `);
    const { vm } = boot(g.program, 'binary-translation');
    vm.run(100_000);
    const translator = bt(vm);
    const block = (at: number) => translator.cache.get(at);
    // The loop's blocks (ADD and the OUT callout; LOOP) ran 300 times, the code before them once.
    const loop = [block(g.label('again')), block(g.label('again') + 4)];
    for (const b of loop) assert.match(b?.fn.name ?? '', /^ccf_/, 'the loop runs its compiled CCFs');
    assert.equal(block(g.label('start'))?.fn.name, 'compileThenRun', 'the code before the loop ran once: not compiled');
    assert.equal(translator.stats.compiled, loop.length, 'the loop\'s blocks compiled, nothing else');
    assert.equal(translator.stats.callouts, 300 + 1, 'every OUT a callout (and HLT), in the first run as in the CCF');
    const native = boot(g.program, 'native').vm;
    native.run(100_000);
    assert.deepEqual(ending(vm), ending(native));
    assert.equal(vm.cpu.regs[0] >>> 0, (300 * 301) / 2);
  });
});
