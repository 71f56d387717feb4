/* Public entry points of the simulated PC. */
export * from './machine';
export * from './report';
export { LoadError, findMultibootHeader } from './multiboot';
export { FIRMWARE_GDT, MULTIBOOT_INFO, BOOT_STACK_TOP } from './firmware';
export { assembleProgram, loadProgramFile, type Program } from './program';
export { keyToScanCodes, textToScanCodes, type KeyboardInput } from './keyboardInput';
