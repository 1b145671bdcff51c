// A small static file server on a loopback port, so the browser loads everything (Cesium, the page, the
// tiles) from one local origin and never needs the network.
//
// `mounts` maps a URL prefix ("/cesium/") to a folder; `routes` maps an exact path ("/api/datasets") to a
// function returning { type, body }. Paths that escape their folder (".." or encoded variants) get 403.
import { createServer } from "node:http";
import { readFile, stat } from "node:fs/promises";
import { extname, join, resolve, sep } from "node:path";

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".glb": "model/gltf-binary",
  ".gltf": "model/gltf+json",
  ".b3dm": "application/octet-stream",
  ".pnts": "application/octet-stream",
  ".subtree": "application/octet-stream",
  ".wasm": "application/wasm",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".svg": "image/svg+xml",
  ".ktx2": "image/ktx2",
  ".xml": "application/xml",
};

/** Starts the server; resolves to { url, close, requests (every request's path and query) } once it listens. */
export async function serve({ mounts = {}, routes = {} }) {
  const requests = [];
  // Longest prefix first, so "/tiles/a/" wins over "/".
  const prefixes = Object.keys(mounts).sort((a, b) => b.length - a.length);
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
    requests.push(req.url);
    try {
      if (routes[path]) {
        const { type, body } = await routes[path](req);
        res.writeHead(200, { "content-type": type });
        res.end(body);
        return;
      }
      const prefix = prefixes.find((p) => path.startsWith(p));
      if (prefix === undefined) return send(res, 404, `no mount for ${path}`);
      const root = resolve(mounts[prefix]);
      let file = resolve(join(root, path.slice(prefix.length)));
      if (file !== root && !file.startsWith(root + sep)) return send(res, 403, "outside the served folder");
      if ((await stat(file).catch(() => null))?.isDirectory()) file = join(file, "index.html");
      const body = await readFile(file).catch(() => null);
      if (body === null) return send(res, 404, `not found: ${path}`);
      res.writeHead(200, { "content-type": TYPES[extname(file).toLowerCase()] ?? "application/octet-stream" });
      res.end(body);
    } catch (e) {
      send(res, 500, String(e?.stack ?? e));
    }
  });
  await new Promise((ok, fail) => {
    server.once("error", fail);
    server.listen(0, "127.0.0.1", ok);
  });
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((ok) => server.close(ok)),
  };
}

function send(res, status, text) {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8" });
  res.end(text);
}
