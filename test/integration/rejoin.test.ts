// Static membership (shared/membership.ts): a service killed with SIGKILL and started again gets
// its partitions back at once, not after the dead member's session timeout; two live processes of
// one service get two instance ids and share the partitions.
import { createServer } from "node:net";
import { AssignerProtocol } from "kafkajs";
import { expect, it } from "vitest";
import { connect, postgresClient } from "../../shared/db.js";
import { claimGroupIdentity, type LockSession } from "../../shared/membership.js";
import { createLogger } from "../../shared/logger.js";
import { runId, testEnv } from "../support/env.js";
import { testKafka, waitUntil } from "../support/kafka.js";
import { startProcess, type Proc } from "../support/process.js";

const service = "olt";
/** Long, so that waiting for the dead member's session is told apart from replacing it at once. */
const sessionTimeoutMs = 60_000;

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });

async function start(): Promise<{ proc: Proc; port: number }> {
  const port = await freePort();
  const proc = startProcess(`services/${service}/main.ts`, { ...testEnv, HTTP_PORT: String(port), LOG_LEVEL: "info", KAFKA_SESSION_TIMEOUT_MS: String(sessionTimeoutMs) });
  return { proc, port };
}

const isReady = async (port: number) => {
  try {
    return (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200;
  } catch {
    return false;
  }
};

/** The instance id from the process's "service started" line. */
const instanceOf = (proc: Proc): string | null | undefined => {
  const line = proc.output().split("\n").find((l) => l.includes('"msg":"service started"'));
  return line ? (JSON.parse(line) as { instance: string | null }).instance : undefined;
};

async function stop(proc: Proc): Promise<void> {
  if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill("SIGTERM");
  await proc.exited;
}

it("a service started again after SIGKILL takes over its predecessor's instance id and partitions without waiting for its session timeout", async () => {
  const first = await start();
  let second: Awaited<ReturnType<typeof start>> | undefined;
  try {
    await waitUntil(() => isReady(first.port), 120_000, () => `${service} ready; output:\n${first.proc.output()}`);
    const instance = instanceOf(first.proc);
    expect(instance).toMatch(new RegExp(`^${service}#\\d+$`));
    first.proc.child.kill("SIGKILL");
    await first.proc.exited;

    second = await start();
    const startedAt = Date.now();
    const proc = second.proc;
    await waitUntil(() => isReady(second?.port ?? 0), 120_000, () => `${service} ready again; output:\n${proc.output()}`);
    // A dynamic member would wait for the dead one's session (60 s) before the group gave it
    // any partition; the same instance id is handed the dead member's partitions at once.
    expect(Date.now() - startedAt).toBeLessThan(sessionTimeoutMs / 2);
    expect(instanceOf(second.proc)).toBe(instance);
  } finally {
    await stop(first.proc);
    if (second) await stop(second.proc);
  }
});

it("two live processes of one service have two instance ids and split the partitions (neither replaces the other)", async () => {
  const a = await start();
  const b = await start();
  try {
    await waitUntil(async () => (await isReady(a.port)) && (await isReady(b.port)), 120_000, () => `both ready; output:\n${a.proc.output()}\n${b.proc.output()}`);
    expect(new Set([instanceOf(a.proc), instanceOf(b.proc)]).size).toBe(2);
    // Both members stay in the group with disjoint shares: were one replacing the other, the
    // group would hold one member at a time.
    const admin = testKafka.admin();
    await admin.connect();
    try {
      await waitUntil(
        async () => {
          const [group] = (await admin.describeGroups([service])).groups;
          if (group?.state !== "Stable" || group.members.length !== 2) return false;
          const shares = group.members.map((m) => AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment ?? {});
          const all = shares.flatMap((s) => Object.entries(s).flatMap(([t, ps]) => ps.map((p) => `${t}/${p}`)));
          return shares.every((s) => Object.values(s).some((ps) => ps.length > 0)) && new Set(all).size === all.length;
        },
        60_000,
        () => `group ${service} stable with two members sharing its partitions`,
      );
    } finally {
      await admin.disconnect();
    }
  } finally {
    await stop(a.proc);
    await stop(b.proc);
  }
});

it("a process whose lock session PostgreSQL ended, and whose slot another process took meanwhile, joins under another instance id", async () => {
  const group = `membership-test-${runId()}`;
  const logger = createLogger("rejoin-test", "silent");
  // Two processes' lock sessions.
  const session = (name: string): LockSession => {
    const sql = postgresClient(testEnv.DATABASE_URL, { max: 1, connection: { application_name: `${name}-${group}` } });
    return { sql, held: new Set(), done: () => sql.end({ timeout: 2 }) };
  };
  const a = await claimGroupIdentity(session("membership-a"), group, logger);
  let b: Awaited<ReturnType<typeof claimGroupIdentity>> | undefined;
  const { sql } = connect(testEnv.DATABASE_URL, { max: 1 });
  try {
    expect(await a.current()).toBe(`${group}#0`);
    // PostgreSQL ends a's session (as a restart would): its lock, and so its slot, are free.
    await sql`select pg_terminate_backend(pid) from pg_stat_activity where application_name = ${`membership-a-${group}`}`;
    b = await claimGroupIdentity(session("membership-b"), group, logger);
    expect(await b.current()).toBe(`${group}#0`);
    // a's next join: its session is a new one, its slot is b's now, so it takes another.
    expect(await a.current()).toBe(`${group}#1`);
    expect(await b.current()).toBe(`${group}#0`);
  } finally {
    await a.release();
    await b?.release();
    await sql.end();
  }
});
