/* Public entry points of the assembler package (implementations in the sibling modules). */
export * from './ast';
export { parseNasm } from './parser';
export { assemble } from './assembler';
export { disassemble, disassembleOne, type DisassembleOptions } from './disassembler';
export { PREDEFINED } from './predefined';
