import type { AssignedStep } from '@kraken/protocol';

/** One command a step runs: a shell script, with its working dir (relative to the job dir) and env. */
export interface ToolCommand {
  script: string;
  /** Shell to run the script with; default `/bin/sh`. */
  shell?: string;
  /** Relative to the job dir; default the job dir itself. */
  cwd?: string;
  env: Record<string, string>;
  /** Step timeout, if the step sets one (the job deadline applies anyway). */
  timeoutMs?: number;
}

/** A tool turns a step of the workflow schema into the command(s) it runs. */
export type Tool<S extends AssignedStep = AssignedStep> = (step: S) => ToolCommand[];
