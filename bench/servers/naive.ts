// Baseline: the queue a user would write in ten minutes, node:http + ioredis with default
// options, one RPUSH per POST and one LPOP per GET, no validation, no ids, no scripts.
// presque must beat it route for route. Usage: naive.ts <redis url> <list key>.
// Prints {"port": N} on stdout once it listens.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Redis } from "ioredis";

const [url, list] = process.argv.slice(2);
if (!url || !list) throw new Error("usage: naive.ts <redis url> <list key>");
const redis = new Redis(url);
const JSON_TYPE = "application/json; charset=utf-8";
const CREATED = Buffer.from('{"ok":true}');
const EMPTY = Buffer.from('{"error":"no job"}');

const server = createServer((req, res) => {
  if (req.method === "POST") {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      redis.rpush(list, Buffer.concat(chunks)).then(
        () => {
          res.writeHead(201, { "content-type": JSON_TYPE, "content-length": CREATED.length });
          res.end(CREATED);
        },
        () => {
          res.writeHead(503);
          res.end();
        },
      );
    });
    return;
  }
  redis.lpopBuffer(list).then(
    (job) => {
      const body = job ?? EMPTY;
      res.writeHead(job ? 200 : 404, { "content-type": JSON_TYPE, "content-length": body.length });
      res.end(body);
    },
    () => {
      res.writeHead(503);
      res.end();
    },
  );
});

redis.once("ready", () => {
  server.listen(0, "127.0.0.1", () => {
    process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
  });
});

const stop = () => {
  server.close(() => redis.quit().finally(() => process.exit(0)));
  server.closeAllConnections();
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
