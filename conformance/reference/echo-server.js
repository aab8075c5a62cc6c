// A plain engine.io echo server with the contract's timers, used to calibrate the conformance
// runner: `node echo-server.js <port>`. Prints one line once it is listening on 127.0.0.1.
"use strict";

const http = require("http");
const engine = require("engine.io");

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error("usage: node echo-server.js <port>");
  process.exit(2);
}

const httpServer = http.createServer((req, res) => {
  res.writeHead(501);
  res.end("Not Implemented");
});
const server = engine.attach(httpServer, {
  pingInterval: 300,
  pingTimeout: 200,
  maxHttpBufferSize: 1e6,
});
server.on("connection", (socket) => {
  socket.on("message", (data) => socket.send(data));
});

httpServer.listen(port, "127.0.0.1", () => {
  console.log(`engine.io (protocol ${engine.protocol}) echo server listening on 127.0.0.1:${port}`);
});
