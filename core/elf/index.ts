export * from './elf32';
