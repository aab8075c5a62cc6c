"use strict";
// The Node.js node of the socketio-server PostgreSQL cluster test: socket.io 4.8.4 with
// @socket.io/postgres-adapter 0.5.0 on a `pg` 8 pool. The Rust test drives it with the commands
// of `../js/cluster_node.js` (`fetch` gives each socket's handshake too) on standard input and
// reads JSON lines on standard output.
//
// Usage: node peer.js '<json>' where json is
//   { "pg": {host, port, user, database},   the database
//     "timeoutMs": 60000,                   gives up (exit 2) after this long
//     "heartbeatInterval": 5000, "heartbeatTimeout": 10000,   the adapter's options
//     "serverSideAnswers": { EVENT: ANSWER } }
//         server-side events this node listens to (reported as "server_side"), answered with
//         ANSWER when the sender asks for an answer
// Every connecting socket joins the rooms of its `auth.rooms` and gets
// `data = {name: auth.name}`.
//
// Other reports: {"event":"pg_error","message":M}.

const http = require("http");
const { Server } = require("socket.io");
const { createAdapter } = require("@socket.io/postgres-adapter");
const pg = require("pg");
const node = require("../js/cluster_node.js");

const config = JSON.parse(process.argv[2] || "{}");
node.guard(config.timeoutMs || 60000);

async function main() {
  const pool = new pg.Pool(config.pg);
  // The adapter keeps one pooled client for LISTEN without an "error" listener; a database
  // restart would make its error an uncaught exception. Report errors instead: the adapter
  // reconnects on the client's "end".
  const report = (err) => node.out("pg_error", { message: String(err && err.message) });
  pool.on("error", report);
  pool.on("connect", (client) => client.on("error", report));

  const httpServer = http.createServer();
  const io = new Server(httpServer, {
    adapter: createAdapter(pool, {
      heartbeatInterval: config.heartbeatInterval || 5000,
      heartbeatTimeout: config.heartbeatTimeout || 10000,
      errorHandler: report,
    }),
  });
  io.on("connection", node.adoptAuth);
  node.serve(io, httpServer, { serverSideAnswers: config.serverSideAnswers, fetchHandshake: true });
}

main().catch(node.fatal);
