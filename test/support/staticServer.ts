// A small static file server for browser tests: serves a folder on 127.0.0.1 with HEAD and Range support (what the
// engine's URL loader uses), and lets a test map extra URL prefixes onto other folders (Hub-like paths). With
// `spaFallback` it answers a missing file the way Vite's servers and most static hosts do: index.html, status 200.
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.wgsl': 'text/plain; charset=utf-8',
};

export interface StaticServerOptions {
  /** Answer a missing file with an HTML page (root/index.html, or a stand-in) and status 200, like an SPA host. */
  spaFallback?: boolean;
  /** The content type of that fallback page (default text/html; some hosts send another, or none). */
  fallbackContentType?: string;
  /** Called for every request, before it is answered. */
  onRequest?: (request: { method: string; path: string; headers: Record<string, string | string[] | undefined> }) => void;
}

const FALLBACK_PAGE = '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>app</title></head><body><div id="app"></div></body></html>\n';

export interface StaticServer {
  url: string;
  close(): Promise<void>;
}

/** Serves `root` at "/", and each `mounts[prefix]` folder at "/prefix/". */
export async function serveStatic(root: string, mounts: Record<string, string> = {}, options: StaticServerOptions = {}): Promise<StaticServer> {
  const server: Server = createServer(async (req, res) => {
    try {
      const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
      options.onRequest?.({ method: req.method ?? 'GET', path, headers: req.headers });
      const mount = Object.keys(mounts).find((m) => path.startsWith(`/${m}/`));
      const base = mount ? mounts[mount] : root;
      const rel = normalize(mount ? path.slice(mount.length + 2) : path.slice(1)).replace(/^(\.\.[/\\])+/, '');
      let file = join(base, rel);
      let info = await stat(file).catch(() => undefined);
      if (info?.isDirectory()) {
        file = join(file, 'index.html');
        info = await stat(file).catch(() => undefined);
      }
      if (!info?.isFile() && options.spaFallback) {
        const page = await readFile(join(root, 'index.html')).catch(() => Buffer.from(FALLBACK_PAGE));
        res.writeHead(200, { 'content-type': options.fallbackContentType ?? TYPES['.html'], 'content-length': page.length });
        res.end(req.method === 'HEAD' ? undefined : page);
        return;
      }
      if (!info?.isFile()) {
        res.writeHead(404).end('not found');
        return;
      }
      const headers: Record<string, string | number> = { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'accept-ranges': 'bytes', 'cache-control': 'no-store' };
      const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
      if (range) {
        const start = Number(range[1]);
        const end = range[2] ? Math.min(Number(range[2]), info.size - 1) : info.size - 1;
        if (start > end) {
          res.writeHead(416, { 'content-range': `bytes */${info.size}` }).end();
          return;
        }
        res.writeHead(206, { ...headers, 'content-range': `bytes ${start}-${end}/${info.size}`, 'content-length': end - start + 1 });
        if (req.method === 'HEAD') res.end();
        else createReadStream(file, { start, end }).pipe(res);
        return;
      }
      res.writeHead(200, { ...headers, 'content-length': info.size });
      if (req.method === 'HEAD') res.end();
      else createReadStream(file).pipe(res);
    } catch (e) {
      res.writeHead(500).end(String(e));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
