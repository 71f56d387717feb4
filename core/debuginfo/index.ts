export { DebugInfo, loadDebugInfo, normalizePath, type FunctionRange, type GlobalVariable, type LinePosition } from './debugInfo';
export { parseLinePrograms, type LineProgram, type LineRow } from './lineProgram';
export { readSymbols, type ElfSymbol, type SymbolBind, type SymbolType } from './symbols';
export { parseDebugInfo, type CompileUnit } from './units';
export { DwarfError } from './reader';
