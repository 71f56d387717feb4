/*
 * The decoded-block cache and the binary translator's cache are emptied when full (QEMU's tb_flush):
 * a guest that runs off its code into zeroed RAM decodes megabytes of never-repeated `add [eax], al`
 * blocks. Before the capacity check `popek run` held 3.7 GB natively and binary translation died of
 * heap exhaustion (the CLI fuzz's `popek compare` of a two-line file without HLT).
 */
import * as assert from 'node:assert/strict';
import { CODE_CACHE_INSNS } from '../../core/cpu/cpu';
import type { BinaryTranslationTechnique } from '../../core/vmm/bt/binaryTranslation';
import { boot, guest } from './support';

// Then zeros from 2 MiB on: `add [eax], al`, 2 bytes each, 64 to a block. (Not right after the code:
// the boot loader's command line and name sit on the page after the image, as QEMU puts them.)
const RUNAWAY = 'bits 32\nmov eax, 1\njmp 0x200000\n';
const START = 0x200000;
const STEPS = 3 * CODE_CACHE_INSNS;

describe('code caches have a capacity', function () {
  this.timeout(120_000);

  it('native: a runaway through zeroed RAM empties the decoded-block cache when it fills, and runs on exactly', () => {
    const { vm } = boot(guest(RUNAWAY).program, 'native', { maxInstructions: STEPS });
    while (vm.cpu.icount < STEPS && vm.runSlice(1_000_000) === 'slice') { /* run on */ }
    assert.ok(vm.cpu.stats.codeCacheFull >= 2, `cache emptied ${vm.cpu.stats.codeCacheFull} times`);
    // Each zero pair is one instruction: EIP moved two bytes per instruction after the mov and the jmp.
    assert.equal(vm.cpu.eip >>> 0, START + 2 * (vm.cpu.icount - 2));
  });

  it('binary translation: the translation cache never holds more than its capacity', () => {
    const { vm } = boot(guest(RUNAWAY).program, 'binary-translation', { maxInstructions: STEPS });
    const bt = (vm.technique as BinaryTranslationTechnique).bt;
    let most = 0;
    while (vm.cpu.icount < STEPS && vm.runSlice(50_000) === 'slice') most = Math.max(most, bt.cache.size);
    assert.ok(bt.cache.stats.flushes >= 2, `translation cache flushed ${bt.cache.stats.flushes} times`);
    assert.ok(most * 64 <= CODE_CACHE_INSNS + 64, `${most} blocks held at once`);
    assert.equal(vm.cpu.eip >>> 0, START + 2 * (vm.cpu.icount - 2));
  });
});
