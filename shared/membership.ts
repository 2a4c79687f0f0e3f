// Static membership (Kafka's group.instance.id, KIP-345) for a service's consumer, so a process
// killed with SIGKILL and started again gets its partitions back at once, instead of after the
// dead member's session timeout (docs/runtime.md, "Restarting after a crash").
//
// Each process of a service claims the lowest free slot of its consumer group with a PostgreSQL
// session advisory lock; the slot names its instance id, `<group>#<n>`. The lock ends with its
// session, and the kernel closes a killed process's connection at once, so the restarted process
// finds its predecessor's slot free, joins under its instance id, and the group coordinator hands
// it the predecessor's partitions without a rebalance. A live process's slot is never free, so
// two live members never share an instance id (the coordinator would take turns replacing one
// with the other). The slot is checked again before every JoinGroup (kafkajs asks `current()`):
// if PostgreSQL ended the session meanwhile (a restart) and another process took the slot, this
// one claims another; if PostgreSQL does not answer, it joins as a dynamic member.
import { lockKey, postgresClient, type Sql } from "./db.js";
import type { Logger } from "./logger.js";

/** A PostgreSQL session whose advisory locks name this process's slots. */
export interface LockSession {
  readonly sql: Sql;
  /** Lock keys this session holds (a session takes its own lock again without waiting: skip those). */
  readonly held: Set<string>;
  done(): Promise<void>;
}

const sessions = new Map<string, { session: LockSession; users: number }>();

/**
 * The process's lock session for `databaseUrl`: one connection of its own (not one of a pool's,
 * whose reserved connections postgres.js does not bring back after PostgreSQL ended them), shared
 * by every service of the process (all-in-one), ended when the last one is done with it.
 */
export function processLockSession(databaseUrl: string): LockSession {
  const known = sessions.get(databaseUrl);
  if (known) {
    known.users += 1;
    return known.session;
  }
  const sql = postgresClient(databaseUrl, { max: 1, connection: { application_name: "consumer-membership" } });
  const entry = {
    users: 1,
    session: {
      sql,
      held: new Set<string>(),
      async done() {
        entry.users -= 1;
        if (entry.users > 0) return;
        sessions.delete(databaseUrl);
        await sql.end({ timeout: 2 }).catch(() => undefined);
      },
    },
  };
  sessions.set(databaseUrl, entry);
  return entry.session;
}

export interface GroupIdentity {
  /** The instance id for the next JoinGroup, or null (a dynamic member). */
  current(): Promise<string | null>;
  /** The instance id last handed out (for logs). */
  readonly last: () => string | null;
  release(): Promise<void>;
}

/** More processes of one service than this join as dynamic members. */
const maxSlots = 64;

export async function claimGroupIdentity(session: LockSession, groupId: string, logger: Logger): Promise<GroupIdentity> {
  const { sql, held } = session;
  const log = logger.child({ component: "membership", group: groupId });
  let slot: number | null = null;
  let pid: number | null = null;
  let handedOut: string | null = null;

  const key = (n: number) => lockKey(`consumer-instance:${groupId}:${n}`).toString();
  const instanceId = (n: number) => `${groupId}#${n}`;

  /** Takes the lowest free slot (or `prefer` first); null when every slot is taken. */
  const claim = async (prefer: number | null): Promise<number | null> => {
    const order = prefer === null ? [] : [prefer];
    for (let n = 0; n < maxSlots; n++) if (n !== prefer) order.push(n);
    for (const n of order) {
      if (held.has(key(n))) continue;
      const [row] = await sql<{ ok: boolean; pid: number }[]>`select pg_try_advisory_lock(${key(n)}::bigint) as ok, pg_backend_pid() as pid`;
      if (row?.ok) {
        held.add(key(n));
        pid = Number(row.pid);
        return n;
      }
    }
    return null;
  };

  try {
    slot = await claim(null); // at start-up: PostgreSQL's errors go to the caller, which waits for it
  } catch (err) {
    await session.done();
    throw err;
  }
  if (slot === null) log.warn({ slots: maxSlots }, "every static-membership slot of this group is taken: joining as a dynamic member");

  return {
    last: () => handedOut,
    async current() {
      try {
        if (slot !== null) {
          const [row] = await sql<{ pid: number }[]>`select pg_backend_pid() as pid`;
          if (Number(row?.pid) !== pid) {
            // PostgreSQL ended the session that held the lock: take it again, or another slot if
            // a process started meanwhile took this one.
            const before = slot;
            held.delete(key(before));
            slot = await claim(before);
            if (slot !== before) log.warn({ before: instanceId(before), now: slot === null ? null : instanceId(slot) }, "lost this consumer's instance id while PostgreSQL was away; joining under another");
          }
        }
        handedOut = slot === null ? null : instanceId(slot);
      } catch (err) {
        log.warn({ err: err instanceof Error ? err.message : String(err) }, "PostgreSQL unavailable: joining as a dynamic member");
        handedOut = null;
      }
      return handedOut;
    },
    async release() {
      if (slot !== null) {
        held.delete(key(slot));
        await sql`select pg_advisory_unlock(${key(slot)}::bigint)`.catch(() => undefined);
      }
      await session.done();
    },
  };
}
