"use strict";
// A Node.js node of a mixed cluster for the socketio-server Redis tests: socket.io 4.8.4 with
// @socket.io/redis-adapter 8.3.0 (classic pub/sub, `redis` 4 clients), and an
// @socket.io/redis-emitter 5.1.0 on the same Redis. The Rust test drives it with the commands of
// `../js/cluster_node.js` (`fetch` gives each socket's handshake too) and the ones below on
// standard input and reads JSON lines on standard output.
//
// Usage: node peer.js <redis url> '<json>' where json is
//   { "timeoutMs": 60000,          gives up (exit 2) after this long
//     "requestsTimeout": 5000,     the adapter's requestsTimeout
//     "serverSideAnswers": { EVENT: ANSWER } }
//         server-side events this node listens to (reported as "server_side"), answered with
//         ANSWER when the sender asks for an answer
// Every connecting socket joins the rooms of its `auth.rooms` and gets
// `data = {name: auth.name}`.
//
// More commands, each answered by {"event":"done","tag":T,...}:
//   {"cmd":"all_rooms"}: done carries "rooms"
//   {"cmd":"redis_ready"}: done carries "ready", whether each of the three Redis clients
//        (publisher, subscriber, emitter) is connected and ready
//   {"cmd":"emitter_emit","to":[..],"except":[..],"event":E,"args":[..]}
//   {"cmd":"emitter_join"|"emitter_leave","to":[..],"rooms":[..]}
//   {"cmd":"emitter_disconnect","to":[..],"close":bool}
//   {"cmd":"emitter_server_side_emit","event":E,"args":[..]}
// Other reports: {"event":"redis_error","message":M}.

const http = require("http");
const { Server } = require("socket.io");
const { createClient } = require("redis");
const { createAdapter } = require("@socket.io/redis-adapter");
const { Emitter } = require("@socket.io/redis-emitter");
const node = require("../js/cluster_node.js");

const [redisUrl, configJson] = process.argv.slice(2);
const config = JSON.parse(configJson || "{}");
node.guard(config.timeoutMs || 60000);

async function main() {
  const pubClient = createClient({ url: redisUrl });
  const subClient = pubClient.duplicate();
  const emitterClient = pubClient.duplicate();
  for (const client of [pubClient, subClient, emitterClient]) {
    client.on("error", (err) => node.out("redis_error", { message: String(err && err.message) }));
  }
  await Promise.all([pubClient.connect(), subClient.connect(), emitterClient.connect()]);

  const httpServer = http.createServer();
  const io = new Server(httpServer, {
    adapter: createAdapter(pubClient, subClient, { requestsTimeout: config.requestsTimeout || 5000 }),
  });
  const emitter = new Emitter(emitterClient);
  io.on("connection", node.adoptAuth);

  const { decode, target } = node;
  node.serve(io, httpServer, {
    serverSideAnswers: config.serverSideAnswers,
    fetchHandshake: true,
    extraCommands: {
      all_rooms: async () => ({ rooms: [...(await io.of("/").adapter.allRooms())] }),
      redis_ready: async () => ({ ready: [pubClient, subClient, emitterClient].map((c) => c.isReady) }),
      emitter_emit: (cmd) => (target(emitter, cmd).emit(cmd.event, ...decode(cmd.args || [])), {}),
      emitter_join: (cmd) => (target(emitter, cmd).socketsJoin(cmd.rooms), {}),
      emitter_leave: (cmd) => (target(emitter, cmd).socketsLeave(cmd.rooms), {}),
      emitter_disconnect: (cmd) => (target(emitter, cmd).disconnectSockets(!!cmd.close), {}),
      emitter_server_side_emit: (cmd) => (emitter.serverSideEmit(cmd.event, ...decode(cmd.args || [])), {}),
    },
  });
}

main().catch(node.fatal);
