"use strict";
// A Node.js node of a mixed cluster for the socketio-server Redis Streams tests: socket.io
// 4.8.4 with @socket.io/redis-streams-adapter 0.2.3 (a `redis` 4 client) and connection state
// recovery on. The Rust test drives it with the commands of `../js/cluster_node.js` on standard
// input and reads JSON lines on standard output.
//
// Usage: node peer.js <redis url> '<json>' where json is
//   { "timeoutMs": 60000,          gives up (exit 2) after this long
//     "streamName": "socket.io",   the adapter's streamName
//     "serverSideAnswers": { EVENT: ANSWER } }
//         server-side events this node listens to (reported as "server_side"), answered with
//         ANSWER when the sender asks for an answer
// Every connecting socket that is not recovered joins the rooms of its `auth.rooms` and gets
// `data = {name: auth.name}`; every connection is reported as {"event":"connection","id":ID,
// "recovered":BOOL,"rooms":[..],"data":D}.
//
// One more command: {"cmd":"xrange"}: done carries "entries", the stream's [id, {field: value}]
// pairs. Other reports: {"event":"redis_error","message":M}.

const http = require("http");
const { Server } = require("socket.io");
const { createClient } = require("redis");
const { createAdapter } = require("@socket.io/redis-streams-adapter");
const node = require("../js/cluster_node.js");

const [redisUrl, configJson] = process.argv.slice(2);
const config = JSON.parse(configJson || "{}");
const streamName = config.streamName || "socket.io";
node.guard(config.timeoutMs || 60000);

async function main() {
  const redisClient = createClient({ url: redisUrl });
  redisClient.on("error", (err) => node.out("redis_error", { message: String(err && err.message) }));
  await redisClient.connect();

  const httpServer = http.createServer();
  const io = new Server(httpServer, {
    adapter: createAdapter(redisClient, { streamName }),
    connectionStateRecovery: { maxDisconnectionDuration: 120000, skipMiddlewares: true },
  });
  io.on("connection", (socket) => {
    if (!socket.recovered) node.adoptAuth(socket);
    const rooms = [...socket.rooms];
    node.out("connection", { id: socket.id, recovered: socket.recovered, rooms, data: socket.data });
  });
  node.serve(io, httpServer, {
    serverSideAnswers: config.serverSideAnswers,
    extraCommands: {
      xrange: async () => {
        const entries = await redisClient.xRange(streamName, "-", "+");
        return { entries: entries.map((e) => [e.id, e.message]) };
      },
    },
  });
}

main().catch(node.fatal);
