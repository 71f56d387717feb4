/*
 * How node is started for the language server (the VS Code client, the benchmark and the protocol
 * tests use the same flags). Import-free, so the client bundle can read it.
 */

/**
 * V8's young generation for the server: 2 MB semi-spaces instead of 16 MB. Editing garbage is
 * short-lived and small (one keystroke's diagnostics), and the default would keep ~40 MB of RSS
 * committed on top of a 100,000-line file's model; the scavenges stay short.
 */
export const SERVER_EXEC_ARGV: readonly string[] = ['--max-semi-space-size=2'];
