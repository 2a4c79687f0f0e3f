// RFC 5176 over UDP with the npm `radius` package: one Disconnect-Request or CoA-Request, retried
// a bounded number of times, each attempt waiting `timeoutMs` for the NAS's ACK / NAK.
import dgram from "node:dgram";
import fs from "node:fs";
import radius from "radius";

const mikrotik = "/usr/share/freeradius/dictionary.mikrotik";
let dictionaries = false;
function loadDictionaries(): void {
  if (dictionaries) return;
  if (fs.existsSync(mikrotik)) radius.add_dictionary(mikrotik);
  dictionaries = true;
}

export interface CoaTarget {
  readonly address: string;
  readonly port: number;
  readonly secret: string;
}

export interface CoaResult {
  readonly outcome: "ack" | "nak" | "timeout";
  readonly errorCause: number | null;
  readonly attempts: number;
}

const errorCauses: Record<string, number> = {
  "Residual-Context-Removed": 201,
  "Invalid-EAP-Packet": 202,
  "Unsupported-Attribute": 401,
  "Missing-Attribute": 402,
  "NAS-Identification-Mismatch": 403,
  "Invalid-Request": 404,
  "Unsupported-Service": 405,
  "Unsupported-Extension": 406,
  "Invalid-Attribute-Value": 407,
  "Administratively-Prohibited": 501,
  "Request-Not-Routable": 502,
  "Session-Context-Not-Found": 503,
  "Session-Context-Not-Removable": 504,
  "Other-Proxy-Processing-Error": 505,
  "Resources-Unavailable": 506,
  "Request-Initiated": 507,
  "Multiple-Session-Selection-Unsupported": 508,
};

/** Error-Cause as its number (the package decodes known values to names). */
export function errorCauseNumber(v: unknown): number | null {
  if (typeof v === "number") return v;
  if (typeof v === "string") return errorCauses[v] ?? (/^\d+$/.test(v) ? Number(v) : null);
  return null;
}

const mikrotikVendor = 14988;

/** Standard attributes as they are; Mikrotik-* inside one Vendor-Specific attribute. */
export function packetAttributes(attributes: Record<string, string>): unknown[] {
  const standard = Object.entries(attributes).filter(([k]) => !k.startsWith("Mikrotik-"));
  const vendor = Object.entries(attributes).filter(([k]) => k.startsWith("Mikrotik-"));
  return vendor.length > 0 ? [...standard, ["Vendor-Specific", mikrotikVendor, vendor]] : standard;
}

export async function sendCoa(kind: "disconnect" | "coa", attributes: Record<string, string>, target: CoaTarget, attempts: number, timeoutMs: number): Promise<CoaResult> {
  loadDictionaries();
  const code = kind === "disconnect" ? "Disconnect-Request" : "CoA-Request";
  const socket = dgram.createSocket("udp4");
  // An unhandled 'error' on a socket would end the process (and every other NAS's requests with
  // it): a socket error is a lost attempt, like a NAS that did not answer.
  socket.on("error", () => undefined);
  try {
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const identifier = Math.floor(Math.random() * 256);
      const packet = radius.encode({ code, identifier, secret: target.secret, attributes: packetAttributes(attributes) as [string, string][] });
      const answer = await new Promise<radius.RadiusPacket | null>((resolve) => {
        const timer = setTimeout(() => {
          socket.off("message", onMessage);
          resolve(null);
        }, timeoutMs);
        const onMessage = (msg: Buffer) => {
          try {
            const decoded = radius.decode({ packet: msg, secret: target.secret });
            if (decoded.identifier !== identifier) return;
            if (!radius.verify_response({ response: msg, request: packet, secret: target.secret })) return;
            clearTimeout(timer);
            socket.off("message", onMessage);
            resolve(decoded);
          } catch {
            // not a packet of ours: keep waiting
          }
        };
        socket.on("message", onMessage);
        socket.send(packet, target.port, target.address, (err) => {
          if (!err) return;
          clearTimeout(timer);
          socket.off("message", onMessage);
          resolve(null);
        });
      });
      if (!answer) continue;
      const ack = answer.code === "Disconnect-ACK" || answer.code === "CoA-ACK";
      return { outcome: ack ? "ack" : "nak", errorCause: ack ? null : errorCauseNumber(answer.attributes["Error-Cause"]), attempts: attempt };
    }
    return { outcome: "timeout", errorCause: null, attempts };
  } finally {
    socket.close();
  }
}
