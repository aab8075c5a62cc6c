"use strict";
// The Node.js reference of the Admin UI tests: socket.io 4.8.4 with @socket.io/admin-ui 0.5.1's
// instrument(), alone or, with a Redis URL, on @socket.io/redis-adapter 8.3.0 (classic pub/sub,
// `redis` 4 clients) beside our nodes. It serves the same chat as the Rust side of the tests.
//
// Usage: node admin_peer.js '<json>' where json is
//   { "redisUrl": "redis://127.0.0.1:P/",   optional: join the cluster on that Redis
//     "admin": { ... },                      instrument()'s options (namespaceName, auth,
//                                            readonly, mode, serverId)
//     "timeoutMs": 60000 }                   gives up (exit 2) after this long
// On start it listens on 127.0.0.1 (a free port) and prints {"event":"listening","port":P}.
//
// The chat, on "/": a socket gets `socket.data.name = auth.name` (a property set, which the
// admin UI reports as socket_updated) and joins the rooms of `auth.rooms`; on `ping` (with an
// ack) it emits `pong` with the same arguments and acks "ok".
//
// Commands (one JSON object per line on standard input): {"cmd":"exit"}.

const http = require("http");
const readline = require("readline");
const { Server } = require("socket.io");
const { instrument } = require("@socket.io/admin-ui");

const config = JSON.parse(process.argv[2] || "{}");

const { out, exit, fatal, guard } = require("../../../socketio-server/tests/js/cluster_node.js");

guard(config.timeoutMs || 60000);

async function main() {
  const httpServer = http.createServer();
  const options = {};
  if (config.redisUrl) {
    const { createClient } = require("redis");
    const { createAdapter } = require("@socket.io/redis-adapter");
    const pubClient = createClient({ url: config.redisUrl });
    const subClient = pubClient.duplicate();
    for (const client of [pubClient, subClient]) {
      client.on("error", (err) => out("redis_error", { message: String(err && err.message) }));
    }
    await Promise.all([pubClient.connect(), subClient.connect()]);
    options.adapter = createAdapter(pubClient, subClient, { requestsTimeout: 5000 });
  }
  const io = new Server(httpServer, options);

  io.on("connection", (socket) => {
    const auth = socket.handshake.auth || {};
    socket.data.name = auth.name;
    if (Array.isArray(auth.rooms)) socket.join(auth.rooms);
    socket.on("ping", (...args) => {
      const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
      socket.emit("pong", ...args);
      if (ack) ack("ok");
    });
  });

  instrument(io, config.admin || { auth: false });

  readline.createInterface({ input: process.stdin }).on("line", (line) => {
    const cmd = JSON.parse(line);
    if (cmd.cmd === "exit") {
      out("bye");
      exit(0);
    }
  });
  process.stdin.on("end", () => exit(0));

  httpServer.listen(0, "127.0.0.1", () => {
    out("listening", { port: httpServer.address().port });
  });
}

main().catch(fatal);
