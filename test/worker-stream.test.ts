// test/worker.test.ts over the stream transport (GET /c/:queue), and what only streams do.
process.env.PRESQUE_TEST_TRANSPORT = "stream";
await import("./worker.test.js");
