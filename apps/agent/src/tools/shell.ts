import type { AssignedStep } from '@kraken/protocol';
import type { Tool, ToolCommand } from './tool';

export type ShellAssignedStep = Extract<AssignedStep, { tool: 'shell' }>;

export const DEFAULT_SHELL = '/bin/sh';

/**
 * The `shell` tool: one command.
 *
 * - `cmd` runs as given (`<shell_exe> -c <cmd>`): its status is the status of its last command,
 *   as in a terminal (`false; true` succeeds).
 * - `script` runs with `set -e` first (on its first line, so line numbers in errors stay right), so the first failing line fails the step with that line's
 *   exit code (upstream behaviour). The usual `set -e` rules apply: a failure inside an `if`
 *   condition or on the left of `&&`/`||` does not stop the script. Multi-line constructs
 *   (`if … fi`, here-documents, `\` continuations) work, since the script goes to the shell whole.
 * - `shell_exe` (default `/bin/sh`) must be a POSIX-like shell (sh, bash, dash, zsh, ksh) that takes
 *   `-c`; it may carry options, split on spaces (`bash -o pipefail`).
 * - `cwd` is relative to the job dir (checked by the executor), `env` is added to the agent's
 *   environment, `timeout` (seconds) becomes `timeoutMs`. No timeout given → none of its own
 *   (the job's deadline still applies; upstream's 60 s default is deliberately not copied).
 */
export const shellTool: Tool<ShellAssignedStep> = (step) => {
  // `set -e; ` goes on the first line so that the shell's messages keep the script's line numbers.
  const script = step.script !== undefined ? `set -e; ${step.script}` : step.cmd;
  if (script === undefined || script.trim() === '') throw new Error(`step ${step.index}: the shell tool needs \`cmd\` or \`script\``);
  const cmd: ToolCommand = { script, env: { ...(step.env ?? {}) } };
  if (step.shell_exe !== undefined && step.shell_exe.trim() !== '') cmd.shell = step.shell_exe.trim();
  if (step.cwd !== undefined && step.cwd !== '') cmd.cwd = step.cwd;
  if (step.timeout !== undefined) cmd.timeoutMs = step.timeout * 1000;
  return [cmd];
};
