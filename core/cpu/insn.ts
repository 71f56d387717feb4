/* A decoded instruction: its operands in fixed fields (one object shape for the whole cache). */
import type { Cpu } from './cpu';
import type { EncodingForm, InstructionInfo } from '../isa/types';

export type ExecFn = (cpu: Cpu, insn: Insn) => void;

export class Insn {
  /** Semantics. Reads operands from this object; sets `cpu.nextEip` for control transfers. */
  exec: ExecFn = () => {};
  /** Lower-case Intel mnemonic (e.g. 'add', 'popfd', 'rep movsb' → 'movsb' with `rep` set). */
  mnemonic = '';
  /** Length in bytes, prefixes included. */
  len = 0;
  /** Opcode: one-byte opcodes 0x00–0xFF, two-byte 0x0F xx as 0x100 | xx. */
  opcode = 0;
  /** Operand size in bytes (2 or 4; byte forms have size 1). */
  size = 4;
  /** Address size 16 (0x67 prefix) or 32. */
  addr16 = false;
  /** ModRM.reg (register number or /digit), -1 without ModRM. */
  reg = -1;
  /** Register operand of ModRM.rm when mod = 3, else -1 (memory operand). */
  rm = -1;
  /** ModRM byte, -1 without. */
  modrm = -1;
  /** Memory operand: base and index registers (-1 none), scale shift, displacement, segment. */
  base = -1;
  index = -1;
  scale = 0;
  disp = 0;
  seg = 3;
  /** A segment override prefix was present. */
  segOverride = false;
  /** First and second immediates (imm2: the selector of a far pointer, the second of ENTER). */
  imm = 0;
  imm2 = 0;
  /** 0 none, 1 REP/REPE (F3), 2 REPNE (F2). */
  rep = 0;
  lock = false;
  /** `InsnClass` bits (monitor intercepts). */
  cls = 0;
  /** Ends a basic block (control transfer or state change the run loop must see). */
  endsBlock = false;
  /** Linear address it was decoded at. */
  linear = 0;
  /** The instruction bytes. */
  bytes: Uint8Array = new Uint8Array(0);
  /** The unwrapped semantics (`exec` may be a monitor wrapper around it). */
  semantics: ExecFn = () => {};
  /** Effective operand size from the code segment and a 0x66 prefix (`size` is 1 for byte forms). */
  operandSize: 16 | 32 = 32;
  /** Number of prefix bytes before the opcode. */
  prefixLen = 0;
  /** The instruction-table row and encoding form this is (undefined for an invalid encoding). */
  info: InstructionInfo | undefined = undefined;
  form: EncodingForm | undefined = undefined;
}
