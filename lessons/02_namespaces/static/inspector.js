// The event inspector: every event this page sends and receives, as a table under the page.
// It watches the sockets from outside (onAny / onAnyOutgoing), so the app's code is unchanged.
// Acknowledgements are answers, not events: they show in the network panel (README, "When it
// doesn't work"), not here.

const MAX_ROWS = 200; // the oldest rows go first
const PAYLOAD_CHARS = 120;
const RESERVED = ["connect", "disconnect", "connect_error"]; // not seen by onAny

let servedBy = ""; // the instance that serves this page's connection (lesson 04's welcome)

export function setInstance(name) {
  servedBy = name || "";
}

function payload(args) {
  if (!args.length) return "";
  let text;
  try {
    text = JSON.stringify(args.length === 1 ? args[0] : args);
  } catch {
    text = String(args);
  }
  return text.length > PAYLOAD_CHARS ? `${text.slice(0, PAYLOAD_CHARS)}…` : text;
}

function record(socket, direction, event, args) {
  if (event === "welcome" && args[0]?.served_by) servedBy = args[0].served_by; // lesson 04
  const body = document.getElementById("inspector-rows");
  if (!body) return;
  const row = document.createElement("tr");
  row.dataset.direction = direction;
  row.dataset.namespace = socket.nsp;
  row.dataset.event = event;
  const cells = [
    new Date().toISOString().slice(11, 23),
    direction === "out" ? "sent →" : "← received",
    socket.nsp,
    event,
    payload(args),
    socket.io.engine?.transport?.name ?? "—",
  ];
  if (document.getElementById("inspector").dataset.instances !== undefined) {
    cells.push(servedBy || "?");
  }
  for (const text of cells) {
    const cell = document.createElement("td");
    cell.textContent = text; // never innerHTML: payloads carry what users typed
    row.append(cell);
  }
  body.prepend(row); // newest first
  while (body.rows.length > MAX_ROWS) body.deleteRow(-1);
}

export function inspect(socket) {
  socket.onAny((event, ...args) => record(socket, "in", event, args));
  socket.onAnyOutgoing((event, ...args) => record(socket, "out", event, args));
  for (const event of RESERVED) {
    socket.on(event, (...args) => {
      const reason = args[0] instanceof Error ? [args[0].message] : args;
      record(socket, "in", event, reason);
    });
  }
  return socket;
}
