// The few Node APIs that examples/node-service uses, declared so that `tsc -p examples` needs no
// @types/node (not a dependency of this repository). In your own project install @types/node instead
// and do not copy this file: its declarations would clash with the real ones.
declare module 'node:http' {
  export interface IncomingHttpHeaders {
    [name: string]: string | string[] | undefined;
  }
  export interface IncomingMessage {
    method?: string;
    url?: string;
    headers: IncomingHttpHeaders;
  }
  export interface ServerResponse {
    readonly headersSent: boolean;
    writeHead(status: number, headers?: Record<string, string | number | string[]>): this;
    end(body?: string): this;
  }
  export interface AddressInfo {
    address: string;
    family: string;
    port: number;
  }
  export interface Server {
    listen(port: number, host: string, callback?: () => void): this;
    address(): AddressInfo | string | null;
    close(callback?: (err?: Error) => void): this;
    closeIdleConnections(): void;
    closeAllConnections(): void;
    on(event: 'error', listener: (err: Error) => void): this;
  }
  export function createServer(listener: (req: IncomingMessage, res: ServerResponse) => void): Server;
}

declare var process: {
  env: Record<string, string | undefined>;
  exitCode?: number | undefined;
  exit(code?: number): never;
  once(event: 'SIGTERM' | 'SIGINT', listener: () => void): void;
};
