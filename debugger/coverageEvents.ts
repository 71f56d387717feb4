/*
 * Code coverage over the debug adapter protocol, for the client's editor decoration: the custom
 * event `popekCoverage` at every stop and at the end of the run of a session that records coverage
 * (launch argument `coverage: true`, or the `popekCoverage` request, which switches recording on and
 * answers with the lines so far). Lines are the client's (1-based unless it said otherwise); the
 * technique is the session's mode, so the client can keep one set per technique.
 */
import type { Mode } from '../core/vmm';
import type { CoverageReport } from './runtime/coverage';

export const COVERAGE_EVENT = 'popekCoverage';
export const COVERAGE_REQUEST = 'popekCoverage';

export interface CoverageBody {
  mode: Mode;
  /** Executed lines per source file (absolute paths as the client names them). */
  files: Array<{ path: string; lines: number[] }>;
  /** Executed instructions of the program, and how many it has. */
  executed: number;
  instructions: number;
  /** False at a stop, true once the run has ended. */
  ended: boolean;
}

/** The event's body from the runtime's report; `toClient` converts a path and a 0-based line. */
export function coverageBody(mode: Mode, r: CoverageReport, ended: boolean, toClient: { path(p: string): string; line(l: number): number }): CoverageBody {
  return {
    mode, ended, executed: r.executed, instructions: r.instructions,
    files: r.files.map((f) => ({ path: toClient.path(f.file), lines: f.lines.map((l) => toClient.line(l)) })),
  };
}
