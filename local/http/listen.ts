import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ListeningServer {
  /** `http://host:port`, IPv6 hosts in brackets. */
  url: string;
  port: number;
  /** Drops keep-alive and in-flight connections too, so a test run never waits on an idle socket. */
  close(): Promise<void>;
}

/** Starts `server` on `host:port` (0 picks a free port); rejects if the port cannot be bound. */
export async function listen(server: Server, port: number, host: string): Promise<ListeningServer> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}`,
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
