import { TOOLS, type AssignedStep } from '@kraken/protocol';
import { gitTool } from './git';
import { shellTool } from './shell';
import type { Tool, ToolCommand } from './tool';

export type { Tool, ToolCommand } from './tool';
export { shellTool, DEFAULT_SHELL } from './shell';
export { gitTool, repoNameFromUrl } from './git';
export { shellQuote } from './quote';

export class UnknownToolError extends Error {
  constructor(readonly tool: string) {
    super(`unknown tool '${tool}': this agent knows ${Object.keys(tools).join(', ')}`);
    this.name = 'UnknownToolError';
  }
}

/** Tool name → tool. Every name in the protocol's TOOLS has an entry (checked by the type). */
export const tools: { [K in (typeof TOOLS)[number]]: Tool<Extract<AssignedStep, { tool: K }>> } = {
  shell: shellTool,
  git: gitTool,
};

export function getTool(name: string): Tool {
  if (!Object.prototype.hasOwnProperty.call(tools, name)) throw new UnknownToolError(name);
  return tools[name as keyof typeof tools] as Tool;
}

/**
 * The command(s) a step runs. Throws UnknownToolError for a tool this agent lacks, and an Error
 * naming the step for a step its tool cannot run (the step then ends as `error`).
 */
export function commandsForStep(step: AssignedStep): ToolCommand[] {
  return getTool((step as { tool: string }).tool)(step);
}
