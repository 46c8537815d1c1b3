// Lesson 01 front end: the real socket.io client from npm, served by the app at /vendor/.
import { io } from "/vendor/socket.io.esm.min.js";
import { inspect } from "./inspector.js";

const socket = inspect(io()); // the event inspector under the page lists what it sends and gets

const $ = (id) => document.getElementById(id);
const status = $("status");
const transport = $("transport");

function showMessage({ name, text }) {
  const item = document.createElement("li");
  const who = document.createElement("span");
  who.className = "name";
  who.textContent = name;
  item.append(who, text); // textContent-style insertion: never innerHTML with user text
  $("messages").append(item);
}

// Goal: #status always says whether the socket is connected, and #transport names the transport
// in use now, also after Engine.IO has moved from long-polling to a WebSocket.
// Constraint: that move comes after "connect", without another "connect"; write text, never
// HTML. (make hint EX=1.5 if you are stuck.)
// Exercise 1.5: show "connected"/"disconnected" in #status and the transport name in #transport.
// BEGIN SOLUTION
socket.on("connect", () => {
  status.textContent = "connected";
  transport.textContent = socket.io.engine.transport.name;
  // Engine.IO starts on HTTP long-polling, then upgrades to a WebSocket.
  socket.io.engine.on("upgrade", (upgraded) => {
    transport.textContent = upgraded.name;
  });
});
socket.on("disconnect", () => {
  status.textContent = "disconnected";
  transport.textContent = "—";
});
// END SOLUTION

socket.on("chat_message", showMessage);
socket.on("user_count", ({ count }) => {
  $("user-count").textContent = count;
});
socket.on("message", (text) => {
  $("echo").textContent = text;
});
socket.on("error", ({ event, error }) => {
  $("error").textContent = `${event}: ${error}`;
});

$("chat-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const message = { name: $("name").value || "anonymous", text: $("text").value };
  socket.emit("chat_message", message, (reply) => {
    $("error").textContent = reply && reply.ok ? "" : `not sent: ${reply && reply.error}`;
  });
  $("text").value = "";
});

$("time-button").addEventListener("click", async () => {
  try {
    const reply = await socket.timeout(5000).emitWithAck("server_time");
    $("server-time").textContent = reply.server_time
      ? new Date(reply.server_time * 1000).toLocaleTimeString()
      : reply.error;
  } catch {
    $("server-time").textContent = "no answer within 5 s";
  }
});

$("echo-button").addEventListener("click", () => socket.send("hello"));
