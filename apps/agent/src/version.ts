declare const KKAGENT_VERSION: string | undefined;

/** Set by the bundler; tests that run the sources read package.json. */
export const AGENT_VERSION: string =
  typeof KKAGENT_VERSION === 'string' ? KKAGENT_VERSION : (require('../package.json') as { version: string }).version;
