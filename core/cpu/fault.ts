/* An exception raised while executing an instruction; thrown and caught by the run loop. */
import { EXCEPTION_NAMES, hasErrorCode } from './constants';

export class CpuFault {
  constructor(
    readonly vector: number,
    /** Error code pushed on the handler's stack (only for vectors that push one). */
    readonly errorCode = 0,
    /** For #PF: the faulting linear address (goes to CR2 at delivery). */
    readonly address = 0,
  ) {}

  get hasErrorCode(): boolean { return hasErrorCode(this.vector); }
  get name(): string { return EXCEPTION_NAMES[this.vector] ?? `vector ${this.vector}`; }
  toString(): string {
    return this.hasErrorCode ? `${this.name}(0x${(this.errorCode >>> 0).toString(16)})` : this.name;
  }
}

/** Thrown when the CPU cannot go on (triple fault); the machine turns it into an outcome. */
export class TripleFault {
  constructor(readonly eip: number, readonly reason: string) {}
}
