import { once } from 'node:events';
import * as net from 'node:net';

/**
 * A TCP relay on a free loopback port to a real server (MariaDB, Redis), for fault tests: cut() is
 * the server vanishing (open connections reset, new ones refused), restore() its return on the
 * same port. The shared servers themselves are never touched.
 */
export class TcpProxy {
  port = 0;
  private server?: net.Server;
  private readonly sockets = new Set<net.Socket>();

  constructor(private readonly targetHost: string, private readonly targetPort: number) {}

  async start(): Promise<number> {
    await this.listen(0);
    return this.port;
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.resetAndDestroy();
    this.sockets.clear();
    if (server) await new Promise<void>(resolve => server.close(() => resolve()));
  }

  async restore(): Promise<void> {
    if (!this.server) await this.listen(this.port);
  }

  stop(): Promise<void> {
    return this.cut();
  }

  private async listen(port: number): Promise<void> {
    const server = net.createServer(client => {
      const upstream = net.connect(this.targetPort, this.targetHost);
      for (const socket of [ client, upstream ]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
      }
      const drop = () => { client.destroy(); upstream.destroy(); };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    this.server = server;
    this.port = (server.address() as net.AddressInfo).port;
  }
}
