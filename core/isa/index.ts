/* Public entry points of the instruction table. */
export * from './types';
export { instructionInfo, allInstructions, attInstructionInfo, virtFactsFor } from './table';
