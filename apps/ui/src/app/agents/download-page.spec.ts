import { installCommands, serverAddress } from './download-page';

describe('download commands', () => {
  it('prefers the configured server URL, else this page', () => {
    expect(serverAddress('http://kraken.example.com:6363/', 'http://localhost:6363')).toBe('http://kraken.example.com:6363');
    expect(serverAddress('', 'http://localhost:6363')).toBe('http://localhost:6363');
    expect(serverAddress('  ', 'http://10.0.0.5:6363')).toBe('http://10.0.0.5:6363');
  });

  it('fills the server into the install script URL and the docker command', () => {
    const c = installCommands('http://10.0.0.5:6363');
    expect(c.curl).toBe('curl -fsSL http://10.0.0.5:6363/install/kraken-agent-install.sh | sudo sh');
    expect(c.wget).toContain('wget -qO- http://10.0.0.5:6363/install/kraken-agent-install.sh');
    expect(c.docker).toMatch(/^docker run .*-e KRAKEN_SERVER_ADDR=http:\/\/10\.0\.0\.5:6363 .* kraken\/agent$/);
    expect(c.docker).not.toContain('KRAKEN_AGENT_TOKEN');
  });

  it('passes the enrollment token when asked, so the agent is authorized at once', () => {
    const c = installCommands('http://k:6363', 'tok123');
    expect(c.curl).toBe('curl -fsSL http://k:6363/install/kraken-agent-install.sh | sudo KRAKEN_AGENT_TOKEN=tok123 sh');
    expect(c.wget).toBe('wget -qO- http://k:6363/install/kraken-agent-install.sh | sudo KRAKEN_AGENT_TOKEN=tok123 sh');
    expect(c.docker).toContain('-e KRAKEN_AGENT_TOKEN=tok123 ');
  });
});
