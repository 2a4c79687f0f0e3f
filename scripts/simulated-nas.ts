// A simulated NAS (a BNG) on a loopback UDP port, for the demo and the tests: decodes RFC 5176 Disconnect / CoA requests with the `radius`
// package and answers ACK, NAK with an Error-Cause, or nothing; optionally after a delay, counting
// the requests it has received and not answered yet (to see a sender's concurrency).
import dgram from "node:dgram";
import radius from "radius";

radius.add_dictionary("/usr/share/freeradius/dictionary.mikrotik");

export interface Received {
  readonly code: string;
  readonly attributes: Record<string, unknown>;
}

export type Answer = { kind: "ack" } | { kind: "nak"; errorCause: number } | { kind: "silent" };

export interface FakeNasOptions {
  /** Answer this long after a request arrives (0: at once). */
  readonly delayMs?: number;
  /** The loopback address to listen on (two NASes of one tenant need two addresses). */
  readonly host?: string;
}

export async function startFakeNas(secret: string, options: FakeNasOptions = {}) {
  const socket = dgram.createSocket("udp4");
  const received: Received[] = [];
  let answer: Answer = { kind: "ack" };
  let delayMs = options.delayMs ?? 0;
  /** Received, to be answered, not answered yet (silent requests are never counted). */
  let unanswered = 0;
  let maxUnanswered = 0;
  const timers = new Set<NodeJS.Timeout>();
  socket.on("message", (msg, rinfo) => {
    const packet = radius.decode({ packet: msg, secret });
    const { "Vendor-Specific": vendor, ...standard } = packet.attributes as Record<string, unknown>;
    received.push({ code: packet.code, attributes: { ...standard, ...(vendor as Record<string, unknown> | undefined) } });
    if (answer.kind === "silent") return;
    const code = `${packet.code === "Disconnect-Request" ? "Disconnect" : "CoA"}-${answer.kind === "ack" ? "ACK" : "NAK"}`;
    const attributes: [string, number][] = answer.kind === "nak" ? [["Error-Cause", answer.errorCause]] : [];
    const reply = () => socket.send(radius.encode_response({ packet, code, secret, attributes }), rinfo.port, rinfo.address);
    if (delayMs <= 0) return reply();
    unanswered++;
    maxUnanswered = Math.max(maxUnanswered, unanswered);
    const timer = setTimeout(() => {
      timers.delete(timer);
      unanswered--;
      reply();
    }, delayMs);
    timers.add(timer);
  });
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve) => socket.bind(0, host, resolve));
  return {
    host,
    port: socket.address().port,
    received,
    answer: (a: Answer) => {
      answer = a;
    },
    delay: (ms: number) => {
      delayMs = ms;
    },
    /** Requests received and not answered yet, now and at most so far (with a delay). */
    get unanswered(): number {
      return unanswered;
    },
    get maxUnanswered(): number {
      return maxUnanswered;
    },
    /** Waits for `count` packets of `code` for `username`. */
    async receivedFor(username: string, code: string, count = 1): Promise<Received[]> {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const got = received.filter((r) => r.code === code && r.attributes["User-Name"] === username);
        if (got.length >= count) return got;
        if (Date.now() > deadline) throw new Error(`NAS did not receive ${count} ${code} for ${username}: ${JSON.stringify(received)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    close: () => {
      for (const t of timers) clearTimeout(t);
      return new Promise<void>((resolve) => socket.close(() => resolve()));
    },
  };
}
