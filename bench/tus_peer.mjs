// The peer of bench/crowd_bench.py: node's tus server with its file store, as a deployment of
// it would run (no hashing, no fsync). Usage: node tus_peer.mjs PORT DIRECTORY
import http from "node:http";
import { Server } from "@tus/server";
import { FileStore } from "@tus/file-store";

const [port, directory] = process.argv.slice(2);
const tus = new Server({ path: "/files", datastore: new FileStore({ directory }) });
http
  .createServer((req, res) => {
    if (req.url === "/health") {
      res.writeHead(200).end("ok"); // for the benchmark's start-up check
      return;
    }
    tus.handle(req, res);
  })
  .listen(Number(port), "127.0.0.1");
