"use strict";
// A Node.js node of a mixed cluster for the socketio-server sharded Redis adapter tests:
// socket.io 4.8.4 with the sharded adapter of @socket.io/redis-adapter 8.3.0
// (`createShardedAdapter`) on a Redis Cluster, through two `redis` 4 cluster clients (the
// subscriber a duplicate of the publisher). The Rust test drives it with the commands of
// `../js/cluster_node.js` on standard input and reads JSON lines on standard output.
//
// Usage: node peer.js '<json list of node urls>' '<json>' where json is
//   { "timeoutMs": 60000,               gives up (exit 2) after this long
//     "subscriptionMode": "dynamic",    the adapter's subscriptionMode
//     "serverSideAnswers": { EVENT: ANSWER } }
//         server-side events this node listens to (reported as "server_side"), answered with
//         ANSWER when the sender asks for an answer
// Every connecting socket joins the rooms of its `auth.rooms` and gets `data = {name:
// auth.name}`; every connection is reported as {"event":"connection","id":ID,"rooms":[..],
// "data":D}. Other reports: {"event":"redis_error","client":"pub"|"sub","message":M}.

const http = require("http");
const { Server } = require("socket.io");
const { createCluster } = require("redis");
const { createShardedAdapter } = require("@socket.io/redis-adapter");
const node = require("../js/cluster_node.js");

const [urlsJson, configJson] = process.argv.slice(2);
const urls = JSON.parse(urlsJson);
const config = JSON.parse(configJson || "{}");
node.guard(config.timeoutMs || 60000);

async function main() {
  const pubClient = createCluster({ rootNodes: urls.map((url) => ({ url })) });
  const subClient = pubClient.duplicate();
  for (const [name, client] of [["pub", pubClient], ["sub", subClient]]) {
    client.on("error", (err) => node.out("redis_error", { client: name, message: String(err && err.message) }));
  }
  await Promise.all([pubClient.connect(), subClient.connect()]);

  const httpServer = http.createServer();
  const io = new Server(httpServer, {
    adapter: createShardedAdapter(pubClient, subClient, {
      subscriptionMode: config.subscriptionMode || "dynamic",
    }),
  });
  io.on("connection", (socket) => {
    node.adoptAuth(socket);
    node.out("connection", { id: socket.id, rooms: [...socket.rooms], data: socket.data });
  });
  node.serve(io, httpServer, { serverSideAnswers: config.serverSideAnswers });
}

main().catch(node.fatal);
