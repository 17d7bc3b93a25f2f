import { once } from 'node:events';
import * as net from 'node:net';
import { AddressInfo } from 'node:net';

/**
 * A loopback port nothing listens on: one the system just handed out and was closed again, so a
 * connection to it is refused. (Ports like 1 or 9 are only probably closed: a machine may run
 * discard or anything else there.)
 */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise(resolve => server.close(resolve));
  return port;
}

/** `http://127.0.0.1:<closed port><path>`: a URL whose connections are refused. */
export async function closedUrl(path = ''): Promise<string> {
  return `http://127.0.0.1:${await closedPort()}${path}`;
}
