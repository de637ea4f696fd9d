import net from 'node:net';
import path from 'node:path';
import { ChildProgram } from './child-program';

export const SERVER_MAIN = path.resolve(__dirname, '../../dist/main.js');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** The built server (`node apps/server/dist/main.js`) as a real process, as `npm start` runs it. */
export class ServerProcess extends ChildProgram {
  constructor(env: NodeJS.ProcessEnv, opts: { ownGroup?: boolean } = {}) {
    super([SERVER_MAIN], env, opts);
  }
}
