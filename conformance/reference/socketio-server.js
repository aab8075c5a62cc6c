// The Socket.IO server the conformance runner's `socket.io` suite expects, on the Node.js
// reference (socket.io 4.8.4): `node socketio-server.js <port> [--eio3] [--msgpack]`.
// Heartbeat 300/200 ms, 1 s connect timeout, and
//   `/`:       emits `auth` with the handshake's auth on connection; `message` comes back as
//              `message-back` with the same arguments; `message-with-ack` is acknowledged with them;
//   `/custom`: emits `auth` on connection.
// Prints one line once it is listening on 127.0.0.1.
"use strict";

const http = require("http");
const { Server } = require("socket.io");

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error("usage: node socketio-server.js <port> [--eio3] [--msgpack]");
  process.exit(2);
}
const flags = new Set(process.argv.slice(3));

const httpServer = http.createServer((req, res) => {
  res.writeHead(404);
  res.end();
});
const io = new Server(httpServer, {
  pingInterval: 300,
  pingTimeout: 200,
  maxHttpBufferSize: 1e6,
  connectTimeout: 1000,
  allowEIO3: flags.has("--eio3"),
  parser: flags.has("--msgpack") ? require("socket.io-msgpack-parser") : undefined,
  serveClient: false,
});

io.on("connection", (socket) => {
  socket.emit("auth", socket.handshake.auth);
  socket.on("message", (...args) => socket.emit("message-back", ...args));
  socket.on("message-with-ack", (...args) => {
    const ack = args.pop();
    ack(...args);
  });
});
io.of("/custom").on("connection", (socket) => {
  socket.emit("auth", socket.handshake.auth);
});

httpServer.listen(port, "127.0.0.1", () => {
  console.log(`socket.io ${require("socket.io/package.json").version} listening on 127.0.0.1:${port} ${[...flags].join(" ")}`);
});
