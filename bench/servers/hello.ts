// Baseline: the least a Node HTTP service can do per request (the ceiling for presque).
// Prints {"port": N} on stdout once it listens.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

const BODY = Buffer.from(JSON.stringify({ hello: "world" }));

const server = createServer((_req, res) => {
  res.writeHead(200, { "content-type": "application/json; charset=utf-8", "content-length": BODY.length });
  res.end(BODY);
});

server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});

const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
