/**
 * A real HTTP server on 127.0.0.1 (random port) for hub tests. It serves a folder and has
 * routes that misbehave on purpose:
 *   /files/<path>          the file (Content-Length), 404 when absent
 *   /lfs/<path>            the file with X-Linked-Etag: <sha256>       (Hugging Face LFS style)
 *   /badsha/<path>         the file with a wrong X-Linked-Etag
 *   /gzip/<path>           gzip Content-Encoding (Content-Length is the compressed size)
 *   /chunked/<path>        no Content-Length (chunked transfer)
 *   /slow/<path>           the file in 4 pieces, 15 ms apart
 *   /hub/<owner>/<name>/resolve/<rev>/<file>   → <root>/<name>/<file> (a fake Hub)
 *   /status/<code>/<path>  answers that status
 *   /stall-headers/<path>  never answers
 *   /stall/<path>          headers (Content-Length 1000) and 10 bytes, then nothing
 *   /short/<path>          Content-Length 1000, 10 bytes, then the connection is cut
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { join, normalize } from 'node:path';
import { gzipSync } from 'node:zlib';

export interface TestServer {
  url: string;
  /** Request paths received, in order. */
  requests: string[];
  close(): Promise<void>;
}

export async function startTestServer(root: string): Promise<TestServer> {
  const requests: string[] = [];
  const sockets = new Set<Socket>();

  const readUnder = async (relative: string): Promise<Buffer | null> => {
    const decoded = decodeURIComponent(relative);
    const path = normalize(join(root, decoded));
    if (!path.startsWith(root)) return null;
    try {
      return await readFile(path);
    } catch {
      return null;
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    requests.push(path);
    const match = /^\/(status\/\d+|[a-z-]+)\/(.*)$/.exec(path);
    if (!match) return end(res, 404);
    const [, route, rest] = match;
    if (route === 'stall-headers') return; // never answer
    if (route === 'stall') {
      res.writeHead(200, { 'content-length': '1000' });
      res.write(Buffer.alloc(10, 1));
      return;
    }
    if (route === 'short') {
      res.writeHead(200, { 'content-length': '1000' });
      res.write(Buffer.alloc(10, 1), () => setTimeout(() => res.socket?.destroy(), 10));
      return;
    }
    if (route.startsWith('status/')) return end(res, Number(route.slice(7)));
    let relative = rest;
    if (route === 'hub') {
      const hub = /^([^/]+\/)?([^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(rest);
      if (!hub) return end(res, 404);
      relative = `${hub[2]}/${hub[4]}`;
    }
    const body = await readUnder(relative);
    if (!body) return end(res, 404);
    const sha = createHash('sha256').update(body).digest('hex');
    if (req.method === 'HEAD') {
      res.writeHead(200, { 'content-length': String(body.length) });
      return res.end();
    }
    switch (route) {
      case 'files':
      case 'hub':
        res.writeHead(200, { 'content-length': String(body.length), etag: `"${sha.slice(0, 16)}"` });
        return res.end(body);
      case 'lfs':
        res.writeHead(200, { 'content-length': String(body.length), 'x-linked-etag': `"${sha}"`, etag: `"${sha}"` });
        return res.end(body);
      case 'badsha':
        res.writeHead(200, { 'content-length': String(body.length), 'x-linked-etag': `"${'0'.repeat(64)}"` });
        return res.end(body);
      case 'gzip': {
        const zipped = gzipSync(body);
        res.writeHead(200, { 'content-length': String(zipped.length), 'content-encoding': 'gzip' });
        return res.end(zipped);
      }
      case 'chunked':
        res.writeHead(200, {});
        res.write(body.subarray(0, body.length >> 1));
        return res.end(body.subarray(body.length >> 1));
      case 'slow': {
        res.writeHead(200, { 'content-length': String(body.length) });
        const piece = Math.ceil(body.length / 4);
        for (let i = 0; i < 4; i++) {
          res.write(body.subarray(i * piece, (i + 1) * piece));
          await new Promise((r) => setTimeout(r, 15));
        }
        return res.end();
      }
      default:
        return end(res, 404);
    }
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => end(res, 500));
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no server address');
  return {
    url: `http://127.0.0.1:${address.port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function end(res: ServerResponse, status: number): void {
  if (res.headersSent) return void res.end();
  res.writeHead(status, { 'content-type': 'text/plain' });
  res.end(`status ${status}`);
}
