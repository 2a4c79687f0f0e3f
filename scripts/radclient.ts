// Authenticates against FreeRADIUS with radclient (freeradius-utils, installed by
// infra/freeradius): a maintained RADIUS client whose dictionaries know every attribute we return.
import { execFile } from "node:child_process";

export const radiusServer = {
  address: `127.0.0.1:${process.env.RADIUS_AUTH_PORT ?? "18120"}`,
  secret: process.env.RADIUS_SECRET ?? "testing123",
};

export interface RadiusAnswer {
  readonly code: string;
  /** Reply attributes by name (with tag suffix, e.g. `Tunnel-Private-Group-Id:1`); repeated ones joined by ", ". */
  readonly attributes: Readonly<Record<string, string>>;
}

const quote = (s: string) => `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;

/** Sends a PAP Access-Request and returns the answer's code and reply attributes. */
export function authenticate(username: string, password: string): Promise<RadiusAnswer> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      "radclient",
      ["-x", "-t", "3", "-r", "2", radiusServer.address, "auth", radiusServer.secret],
      { timeout: 15_000 },
      (err, stdout) => {
        const received = /^Received (Access-\w+)/m.exec(stdout);
        if (!received) return reject(new Error(`no answer from FreeRADIUS: ${String(err)}\n${stdout}`));
        const after = stdout.slice((received.index ?? 0) + received[0].length).split("\n").slice(1);
        const attributes: Record<string, string> = {};
        for (const line of after) {
          const m = /^\t(\S+) = (.*)$/.exec(line);
          if (!m) continue;
          const [, name = "", raw = ""] = m;
          const value = raw.replace(/^"(.*)"$/, "$1");
          attributes[name] = name in attributes ? `${attributes[name]}, ${value}` : value;
        }
        resolve({ code: received[1] ?? "", attributes });
      },
    );
    child.stdin?.end(`User-Name = ${quote(username)}\nUser-Password = ${quote(password)}\nNAS-IP-Address = 127.0.0.1\n`);
  });
}

/** A real Accounting-Start to FreeRADIUS (as the NAS sends when a session begins), so radacct holds the open session. */
export function accountingStart(username: string, sessionId: string, framedIp: string, nasIp = "127.0.0.1"): Promise<void> {
  const acct = radiusServer.address.replace(/:(\d+)$/, (_m, p: string) => `:${Number(p) + 1}`);
  const input = [`User-Name = ${quote(username)}`, "Acct-Status-Type = Start", `Acct-Session-Id = ${quote(sessionId)}`, `NAS-IP-Address = ${nasIp}`, `Framed-IP-Address = ${framedIp}`].join("\n");
  return new Promise((resolve, reject) => {
    const child = execFile("radclient", ["-t", "3", "-r", "2", acct, "acct", radiusServer.secret], { timeout: 15_000 }, (err, stdout) =>
      err ? reject(new Error(`Accounting-Start failed: ${String(err)}\n${stdout}`)) : resolve(),
    );
    child.stdin?.end(`${input}\n`);
  });
}
