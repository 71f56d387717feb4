/*
 * The virtual-machine control structure (Intel SDM Vol. 3C ch. 25 "Organization of VMCS Data",
 * App. B "Field Encoding in VMCS"): every field with Intel's 32-bit encoding, its area and width,
 * VMREAD/VMWRITE by encoding, and named access by area for the debugger's VMCS scope.
 *
 * Encodings are the ones of Linux `arch/x86/include/asm/vmx.h` (enum vmcs_field). An encoding carries
 * the field's shape in its bits (SDM App. B, Table B-1): bit 0 access type (0 full, 1 high half of a
 * 64-bit field), bits 9:1 index, bits 11:10 type (0 control, 1 VM-exit information = read-only,
 * 2 guest state, 3 host state), bits 14:13 width (0 16-bit, 1 64-bit, 2 32-bit, 3 natural width).
 * The widths and areas below are derived from the encodings, not typed in twice.
 */

export type VmcsArea = 'control' | 'exit-info' | 'guest' | 'host';
export type VmcsWidth = 16 | 32 | 64 | 'natural';

export interface VmcsFieldInfo {
  name: string;
  encoding: number;
  area: VmcsArea;
  width: VmcsWidth;
  /** VM-exit information fields are read-only for VMWRITE (SDM §30.3 VMWRITE: VMfailValid(13)). */
  readOnly: boolean;
}

/** Field encodings (Linux asm/vmx.h). */
export const VMCS = {
  // ---- 16-bit ----
  VIRTUAL_PROCESSOR_ID: 0x0000,
  POSTED_INTR_NV: 0x0002,
  GUEST_ES_SELECTOR: 0x0800,
  GUEST_CS_SELECTOR: 0x0802,
  GUEST_SS_SELECTOR: 0x0804,
  GUEST_DS_SELECTOR: 0x0806,
  GUEST_FS_SELECTOR: 0x0808,
  GUEST_GS_SELECTOR: 0x080a,
  GUEST_LDTR_SELECTOR: 0x080c,
  GUEST_TR_SELECTOR: 0x080e,
  GUEST_INTR_STATUS: 0x0810,
  HOST_ES_SELECTOR: 0x0c00,
  HOST_CS_SELECTOR: 0x0c02,
  HOST_SS_SELECTOR: 0x0c04,
  HOST_DS_SELECTOR: 0x0c06,
  HOST_FS_SELECTOR: 0x0c08,
  HOST_GS_SELECTOR: 0x0c0a,
  HOST_TR_SELECTOR: 0x0c0c,
  // ---- 64-bit ----
  IO_BITMAP_A: 0x2000,
  IO_BITMAP_B: 0x2002,
  MSR_BITMAP: 0x2004,
  VM_EXIT_MSR_STORE_ADDR: 0x2006,
  VM_EXIT_MSR_LOAD_ADDR: 0x2008,
  VM_ENTRY_MSR_LOAD_ADDR: 0x200a,
  TSC_OFFSET: 0x2010,
  VIRTUAL_APIC_PAGE_ADDR: 0x2012,
  APIC_ACCESS_ADDR: 0x2014,
  EPT_POINTER: 0x201a,
  EOI_EXIT_BITMAP0: 0x201c,
  EOI_EXIT_BITMAP1: 0x201e,
  EOI_EXIT_BITMAP2: 0x2020,
  EOI_EXIT_BITMAP3: 0x2022,
  GUEST_PHYSICAL_ADDRESS: 0x2400,
  VMCS_LINK_POINTER: 0x2800,
  GUEST_IA32_DEBUGCTL: 0x2802,
  GUEST_IA32_PAT: 0x2804,
  GUEST_IA32_EFER: 0x2806,
  HOST_IA32_PAT: 0x2c00,
  HOST_IA32_EFER: 0x2c02,
  // ---- 32-bit ----
  PIN_BASED_VM_EXEC_CONTROL: 0x4000,
  CPU_BASED_VM_EXEC_CONTROL: 0x4002,
  EXCEPTION_BITMAP: 0x4004,
  PAGE_FAULT_ERROR_CODE_MASK: 0x4006,
  PAGE_FAULT_ERROR_CODE_MATCH: 0x4008,
  CR3_TARGET_COUNT: 0x400a,
  VM_EXIT_CONTROLS: 0x400c,
  VM_EXIT_MSR_STORE_COUNT: 0x400e,
  VM_EXIT_MSR_LOAD_COUNT: 0x4010,
  VM_ENTRY_CONTROLS: 0x4012,
  VM_ENTRY_MSR_LOAD_COUNT: 0x4014,
  VM_ENTRY_INTR_INFO_FIELD: 0x4016,
  VM_ENTRY_EXCEPTION_ERROR_CODE: 0x4018,
  VM_ENTRY_INSTRUCTION_LEN: 0x401a,
  TPR_THRESHOLD: 0x401c,
  SECONDARY_VM_EXEC_CONTROL: 0x401e,
  PLE_GAP: 0x4020,
  PLE_WINDOW: 0x4022,
  VM_INSTRUCTION_ERROR: 0x4400,
  VM_EXIT_REASON: 0x4402,
  VM_EXIT_INTR_INFO: 0x4404,
  VM_EXIT_INTR_ERROR_CODE: 0x4406,
  IDT_VECTORING_INFO_FIELD: 0x4408,
  IDT_VECTORING_ERROR_CODE: 0x440a,
  VM_EXIT_INSTRUCTION_LEN: 0x440c,
  VMX_INSTRUCTION_INFO: 0x440e,
  GUEST_ES_LIMIT: 0x4800,
  GUEST_CS_LIMIT: 0x4802,
  GUEST_SS_LIMIT: 0x4804,
  GUEST_DS_LIMIT: 0x4806,
  GUEST_FS_LIMIT: 0x4808,
  GUEST_GS_LIMIT: 0x480a,
  GUEST_LDTR_LIMIT: 0x480c,
  GUEST_TR_LIMIT: 0x480e,
  GUEST_GDTR_LIMIT: 0x4810,
  GUEST_IDTR_LIMIT: 0x4812,
  GUEST_ES_AR_BYTES: 0x4814,
  GUEST_CS_AR_BYTES: 0x4816,
  GUEST_SS_AR_BYTES: 0x4818,
  GUEST_DS_AR_BYTES: 0x481a,
  GUEST_FS_AR_BYTES: 0x481c,
  GUEST_GS_AR_BYTES: 0x481e,
  GUEST_LDTR_AR_BYTES: 0x4820,
  GUEST_TR_AR_BYTES: 0x4822,
  GUEST_INTERRUPTIBILITY_INFO: 0x4824,
  GUEST_ACTIVITY_STATE: 0x4826,
  GUEST_SYSENTER_CS: 0x482a,
  VMX_PREEMPTION_TIMER_VALUE: 0x482e,
  HOST_IA32_SYSENTER_CS: 0x4c00,
  // ---- natural width ----
  CR0_GUEST_HOST_MASK: 0x6000,
  CR4_GUEST_HOST_MASK: 0x6002,
  CR0_READ_SHADOW: 0x6004,
  CR4_READ_SHADOW: 0x6006,
  CR3_TARGET_VALUE0: 0x6008,
  CR3_TARGET_VALUE1: 0x600a,
  CR3_TARGET_VALUE2: 0x600c,
  CR3_TARGET_VALUE3: 0x600e,
  EXIT_QUALIFICATION: 0x6400,
  GUEST_LINEAR_ADDRESS: 0x640a,
  GUEST_CR0: 0x6800,
  GUEST_CR3: 0x6802,
  GUEST_CR4: 0x6804,
  GUEST_ES_BASE: 0x6806,
  GUEST_CS_BASE: 0x6808,
  GUEST_SS_BASE: 0x680a,
  GUEST_DS_BASE: 0x680c,
  GUEST_FS_BASE: 0x680e,
  GUEST_GS_BASE: 0x6810,
  GUEST_LDTR_BASE: 0x6812,
  GUEST_TR_BASE: 0x6814,
  GUEST_GDTR_BASE: 0x6816,
  GUEST_IDTR_BASE: 0x6818,
  GUEST_DR7: 0x681a,
  GUEST_RSP: 0x681c,
  GUEST_RIP: 0x681e,
  GUEST_RFLAGS: 0x6820,
  GUEST_PENDING_DBG_EXCEPTIONS: 0x6822,
  GUEST_SYSENTER_ESP: 0x6824,
  GUEST_SYSENTER_EIP: 0x6826,
  HOST_CR0: 0x6c00,
  HOST_CR3: 0x6c02,
  HOST_CR4: 0x6c04,
  HOST_FS_BASE: 0x6c06,
  HOST_GS_BASE: 0x6c08,
  HOST_TR_BASE: 0x6c0a,
  HOST_GDTR_BASE: 0x6c0c,
  HOST_IDTR_BASE: 0x6c0e,
  HOST_IA32_SYSENTER_ESP: 0x6c10,
  HOST_IA32_SYSENTER_EIP: 0x6c12,
  HOST_RSP: 0x6c14,
  HOST_RIP: 0x6c16,
} as const;

export type VmcsFieldName = keyof typeof VMCS;

const AREAS: readonly VmcsArea[] = ['control', 'exit-info', 'guest', 'host'];
const WIDTHS: readonly VmcsWidth[] = [16, 64, 32, 'natural'];

/** Area and width of a field from the bits of its encoding (SDM App. B, Table B-1). */
export function decodeEncoding(encoding: number): { area: VmcsArea; width: VmcsWidth; high: boolean; index: number } {
  return {
    high: (encoding & 1) === 1,
    index: (encoding >> 1) & 0x1ff,
    area: AREAS[(encoding >> 10) & 3],
    width: WIDTHS[(encoding >> 13) & 3],
  };
}

export const VMCS_FIELDS: readonly VmcsFieldInfo[] = Object.entries(VMCS).map(([name, encoding]) => {
  const { area, width } = decodeEncoding(encoding);
  return { name, encoding, area, width, readOnly: area === 'exit-info' };
});
const BY_ENCODING = new Map<number, VmcsFieldInfo>(VMCS_FIELDS.map((f) => [f.encoding, f]));

/** VMREAD/VMWRITE of an encoding no field has (SDM §31.4 VM-instruction error 12). */
export class VmcsError extends Error {
  constructor(message: string, readonly instructionError: number) { super(message); }
}
/** VM-instruction error numbers (SDM Vol. 3C §31.4). */
export const VMERR_UNSUPPORTED_COMPONENT = 12;
export const VMERR_WRITE_READ_ONLY = 13;

function widthMask(width: VmcsWidth): bigint {
  // A 32-bit processor's natural width is 32 bits (SDM §25.11.2).
  return width === 16 ? 0xffffn : width === 32 || width === 'natural' ? 0xffffffffn : 0xffffffffffffffffn;
}

/** Valid encodings are below 0x8000 (bit 15 is reserved, SDM App. B); the field's slot is its encoding. */
const SLOTS = 0x8000;
const KNOWN = new Uint8Array(SLOTS);
for (const f of VMCS_FIELDS) KNOWN[f.encoding] = 1;
const isWide = (encoding: number) => ((encoding >> 13) & 3) === 1;
const isGuest = (encoding: number) => ((encoding >> 10) & 3) === 2;
const TWO_32 = 2 ** 32;

/** A value for a field of at most 32 bits: ToUint32 truncates and wraps as BigInt.asUintN(64, v) & mask does. */
function narrow(width: VmcsWidth, value: number | bigint): number {
  const v = typeof value === 'bigint' ? Number(BigInt.asUintN(32, value)) : value >>> 0;
  return width === 16 ? v & 0xffff : v;
}

/**
 * The VMCS: a value per field. `read`/`write` are VMREAD and VMWRITE with their rules; `get`/`set`
 * are the processor's own accesses (VM exits fill the read-only exit-information fields with them).
 * Every field lives in one typed array indexed by encoding — a 64-bit field as its two halves, at its
 * "full" and "high" encodings (SDM App. B: the high half is `encoding | 1`): a VM exit writes several
 * fields, and a Map of bigints made that bookkeeping most of an exit's host time.
 *
 * The guest-state area a VM exit saves (SDM §28.3) may be owed: the exit writes GUEST_RIP (what its
 * handler reads and advances) and leaves a function that saves the rest; the first access to another
 * guest-state field runs it. The host reads the area only at an exit, where the guest's state is what
 * the exit found plus the handler's own changes — what KVM's VMCS holds at the next VM entry.
 */
export class Vmcs {
  private readonly values = new Float64Array(SLOTS);
  /** Saves the guest-state area (all but GUEST_RIP) from the guest, when an exit left it owed. */
  private owedGuestSave: (() => void) | null = null;

  constructor() {
    // SDM §26.3.1.5: the link pointer must be all ones unless VMCS shadowing is used.
    this.values[VMCS.VMCS_LINK_POINTER] = 0xffffffff;
    this.values[VMCS.VMCS_LINK_POINTER | 1] = 0xffffffff;
  }

  /** A VM exit leaves the guest-state area (but GUEST_RIP) to be saved by `save` when first read. */
  oweGuestState(save: () => void): void { this.owedGuestSave = save; }

  private settleGuest(encoding: number): void {
    if (this.owedGuestSave !== null && isGuest(encoding) && encoding !== VMCS.GUEST_RIP) {
      const save = this.owedGuestSave;
      this.owedGuestSave = null;
      save();
    }
  }

  private value(encoding: number): bigint {
    this.settleGuest(encoding);
    const v = this.values;
    return isWide(encoding) ? (BigInt(v[encoding | 1]) << 32n) | BigInt(v[encoding]) : BigInt(v[encoding]);
  }
  private store(info: VmcsFieldInfo, value: number | bigint): void {
    this.settleGuest(info.encoding);
    if (info.width === 64) this.storeWide(info.encoding, value);
    else this.values[info.encoding] = narrow(info.width, value);
  }
  private storeWide(encoding: number, value: number | bigint): void {
    if (typeof value === 'number' && value >= 0 && value < TWO_32 && Number.isInteger(value)) {
      this.values[encoding] = value;
      this.values[encoding | 1] = 0;
      return;
    }
    const v = BigInt.asUintN(64, typeof value === 'bigint' ? value : BigInt(Math.trunc(value)));
    this.values[encoding] = Number(v & 0xffffffffn);
    this.values[encoding | 1] = Number(v >> 32n);
  }

  static info(encoding: number): VmcsFieldInfo | undefined {
    // The high half of a 64-bit field (encoding | 1) is an alias of its upper 32 bits.
    return BY_ENCODING.get(encoding) ?? BY_ENCODING.get(encoding & ~1);
  }

  /** VMREAD. Throws VmcsError for an unsupported encoding. */
  read(encoding: number): bigint {
    const base = BY_ENCODING.get(encoding);
    if (base) return this.value(encoding);
    const full = BY_ENCODING.get(encoding & ~1);
    if (full && full.width === 64 && (encoding & 1)) return this.value(full.encoding) >> 32n;
    throw new VmcsError(`VMREAD: no VMCS field with encoding 0x${encoding.toString(16)}`, VMERR_UNSUPPORTED_COMPONENT);
  }
  /** VMWRITE: rejects unknown encodings and the read-only exit-information fields. */
  write(encoding: number, value: bigint | number): void {
    const info = Vmcs.info(encoding);
    if (!info) throw new VmcsError(`VMWRITE: no VMCS field with encoding 0x${encoding.toString(16)}`, VMERR_UNSUPPORTED_COMPONENT);
    if (info.readOnly) throw new VmcsError(`VMWRITE: ${info.name} is a read-only VM-exit information field`, VMERR_WRITE_READ_ONLY);
    const v = BigInt.asUintN(64, BigInt(value));
    if (info.encoding !== encoding) {
      // High half of a 64-bit field.
      const old = this.value(info.encoding);
      this.store(info, (old & 0xffffffffn) | ((v & 0xffffffffn) << 32n));
      return;
    }
    this.store(info, v & widthMask(info.width));
  }

  /** The processor's own read, as a number (fields used here fit 53 bits). */
  get(encoding: number): number {
    if (!(encoding >= 0 && encoding < SLOTS && KNOWN[encoding])) return 0;
    this.settleGuest(encoding);
    return isWide(encoding) ? this.values[encoding] + this.values[encoding | 1] * TWO_32 : this.values[encoding];
  }
  /** The processor's own write (also of exit-information fields). */
  set(encoding: number, value: number | bigint): void {
    if (!(encoding >= 0 && encoding < SLOTS && KNOWN[encoding])) throw new VmcsError(`no VMCS field with encoding 0x${encoding.toString(16)}`, VMERR_UNSUPPORTED_COMPONENT);
    this.settleGuest(encoding);
    if (isWide(encoding)) this.storeWide(encoding, value);
    else this.values[encoding] = narrow(WIDTHS[(encoding >> 13) & 3], value);
  }

  /**
   * The values of the fields of at most 32 bits, indexed by encoding: the processor's own bulk
   * writes (a VM exit saving the guest-state area) store unsigned values of the field's width here.
   */
  narrowFields(): Float64Array { return this.values; }

  /**
   * `set` of a 32-bit value (a 64-bit field's high half becomes 0) that the caller names by its VMCS
   * constant (no check), into a field that is not an owed guest-state field (exit information, GUEST_RIP).
   */
  setNarrow(encoding: number, value: number): void {
    const width = encoding & 0x6000;
    this.values[encoding] = width === 0 ? value & 0xffff : value >>> 0;
    if (width === 0x2000) this.values[encoding | 1] = 0;
  }

  /** Named fields of one area (the debugger's VMCS scope): name → value. */
  area(area: VmcsArea): Array<{ name: string; encoding: number; width: VmcsWidth; value: bigint }> {
    return VMCS_FIELDS.filter((f) => f.area === area).map((f) => ({ name: f.name, encoding: f.encoding, width: f.width, value: this.value(f.encoding) }));
  }

  getState(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const f of VMCS_FIELDS) out[f.encoding.toString(16)] = this.value(f.encoding).toString(16);
    return out;
  }
  setState(s: Record<string, string>): void {
    this.owedGuestSave = null;
    for (const [enc, v] of Object.entries(s)) {
      const info = BY_ENCODING.get(parseInt(enc, 16));
      if (info) this.store(info, BigInt('0x' + v));
    }
  }
}
