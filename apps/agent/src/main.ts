import { Command, Option } from 'commander';
import pino from 'pino';
import { Agent } from './agent';
import { AgentConfigError, loadAgentConfig, type AgentOptions } from './config';
import { AGENT_VERSION } from './version';
import { installCommand } from './install/install';

function fail(message: string, code = 2): never {
  process.stderr.write(`kkagent: ${message}\n`);
  process.exit(code);
}

function addCommonOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('-s, --server <url>', 'Kraken server URL, e.g. http://kraken:6363 (env KRAKEN_SERVER_ADDR)'))
    .addOption(new Option('-d, --data-dir <dir>', 'data dir for the identity and job work dirs (env KRAKEN_DATA_DIR)'))
    .addOption(new Option('--slots <n>', 'jobs run at once (env KRAKEN_AGENT_SLOTS, default 1)'))
    .addOption(new Option('--system-id <id>', 'report this system instead of the detected one, e.g. ubuntu-22.04 (env KRAKEN_SYSTEM_ID)'))
    .addOption(new Option('-c, --clickhouse-addr <addr>', 'log intake address, overriding the server-provided one (env KRAKEN_CLICKHOUSE_ADDR)'))
    .addOption(new Option('--bind-addr <ip>', 'local address to connect from (env KRAKEN_AGENT_BIND_ADDR)'))
    .addOption(new Option('--stop-timeout <seconds>', 'on SIGTERM, how long a running job may finish before it is cancelled (default 600)'));
}

async function run(opts: AgentOptions): Promise<void> {
  let config;
  try {
    config = loadAgentConfig(opts);
  } catch (err) {
    if (err instanceof AgentConfigError) fail(err.message);
    throw err;
  }
  const log = pino({ base: { service: 'agent' }, level: process.env.KRAKEN_LOG_LEVEL ?? 'info' });
  let agent: Agent;
  try {
    agent = new Agent(config, log);
  } catch (err) {
    if (err instanceof AgentConfigError) fail(err.message);
    throw err;
  }
  agent.start();
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, 'second stop signal: cancelling running jobs');
      agent.hurry();
      return;
    }
    stopping = true;
    log.info({ signal }, 'stopping');
    agent.stop().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

const program = addCommonOptions(new Command('kkagent'))
  .description('Kraken CI agent: connects to a Kraken server and runs its jobs')
  .version(AGENT_VERSION)
  .enablePositionalOptions(false);

addCommonOptions(program.command('run').description('connect to the server and run jobs until stopped')).action(async (_o, cmd: Command) => {
  // Options may come before `run` (the upstream order) or after it.
  await run({ ...program.opts<AgentOptions>(), ...cmd.opts<AgentOptions>() });
});

program.addCommand(installCommand(() => program.opts()));

program.parseAsync(process.argv).catch((err: unknown) => fail(err instanceof Error ? err.message : String(err), 1));
