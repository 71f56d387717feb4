/* Error responses of the debug adapter: stable ids (for tests and telemetry) and message templates. */

export const ErrorId = {
  /** Launch: the arguments are wrong (a bad mode, memory size …). */
  badLaunchArguments: 1001,
  /** Launch: the program file does not exist. */
  programMissing: 1002,
  /** Launch: the assembler reported errors. */
  assemblyFailed: 1003,
  /** Launch: the file is binary, empty or too large. */
  notAProgram: 1004,
  /** Launch: the image does not fit or the machine cannot be created. */
  loadFailed: 1005,
  /** A request that needs a launched guest came before launch (or after the end). */
  noGuest: 2001,
  /** A request that needs a stopped guest came while it runs. */
  running: 2002,
  /** evaluate / setExpression: the expression is wrong or cannot be evaluated. */
  evaluate: 2003,
  /** setVariable: the value or the variable is wrong. */
  setVariable: 2004,
  /** readMemory / writeMemory: bad reference or unmapped memory. */
  memory: 2005,
  /** disassemble: bad reference. */
  disassemble: 2006,
  /** popekKeys: the keys cannot be typed (no keyboard device, no such key). */
  keys: 2007,
  /** Anything unexpected inside the adapter. */
  internal: 9000,
} as const;

export const ErrorFormat: Record<number, string> = {
  [ErrorId.badLaunchArguments]: 'Cannot debug: {_problems}',
  [ErrorId.programMissing]: 'Cannot debug: {_problems}',
  [ErrorId.assemblyFailed]: '{_problems}',
  [ErrorId.notAProgram]: 'Cannot debug: {_problems}',
  [ErrorId.loadFailed]: 'Cannot load the guest: {_problems}',
  [ErrorId.noGuest]: 'No guest is running ({_problems})',
  [ErrorId.running]: 'The guest is running: pause it first ({_problems})',
  [ErrorId.evaluate]: '{_problems}',
  [ErrorId.setVariable]: 'Cannot set {_problems}',
  [ErrorId.memory]: '{_problems}',
  [ErrorId.disassemble]: '{_problems}',
  [ErrorId.keys]: 'Cannot type into the guest: {_problems}',
  [ErrorId.internal]: 'Internal error in the Popek debug adapter: {_problems}',
};
