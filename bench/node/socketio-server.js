// The benchmark's Node.js peer: socket.io 4.8.4 with the load generator's event contract on `/`
// (`echo` acknowledged with its argument, `bcast` sent to every socket, `count` acknowledged with
// the number of sockets, `stats` with the Engine.IO clients and the sockets of `/`):
// `node socketio-server.js <port>`.
"use strict";

const http = require("http");
const { Server } = require("socket.io");

const port = Number(process.argv[2]);
const httpServer = http.createServer();
const io = new Server(httpServer, { serveClient: false, maxHttpBufferSize: 1e6 });
io.on("connection", (socket) => {
  socket.on("echo", (arg, ack) => ack(arg));
  socket.on("bcast", (arg) => io.emit("bcast", arg));
  socket.on("count", (ack) => ack(io.of("/").sockets.size));
  socket.on("stats", (ack) => ack({ clients: io.engine.clientsCount, sockets: io.of("/").sockets.size }));
});
httpServer.listen(port, "127.0.0.1", () => console.log(`socket.io listening on 127.0.0.1:${port}`));
