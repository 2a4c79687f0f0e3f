// The two shapes a service's reaction to a batch takes, on top of the unit of work of outbox.ts:
// - keyedReactor: per subscriber. The state of every subscriber in the batch is loaded in one
//   query, each event is folded and decided in partition order, the changed states are saved in
//   one query and the outgoing events written in one: a handful of statements per batch, however
//   many events it holds. Services with a view of the subscriber use viewReactor (below), which
//   folds the shared SubscriberView for them and defers the writes that nothing depends on.
// - perEvent: one call per event inside the batch's transaction (order intake, fixtures).
import { sql } from "drizzle-orm";
import type { EventName, Message } from "../schemas/generated/events.js";
import type { Catalog } from "../schemas/catalog.js";
import type { BatchReactor, DeferredStates, Incoming } from "./consumer.js";
import type { Db } from "./db.js";
import { isTransient, ItemFailure, PoisonMessageError } from "./errors.js";
import { lockKey } from "./db.js";
import type { Logger } from "./logger.js";
import { enqueueFor, processBatch, recordInbox, type CommittedRows, type Outgoing, type OutboxRow, type Tx } from "./outbox.js";
import type { RuntimeTables, SubscriberStateTable } from "./runtime-tables.js";
import { evolveView, storedView, viewEvents, viewFromStored, type StoredView, type SubscriberView } from "./subscriber-view.js";

/** What the runtime needs to run a unit of work: the service's database, tables and contract. */
export interface UnitDeps {
  readonly name: string;
  readonly db: Db;
  readonly tables: RuntimeTables;
  readonly catalog: Catalog;
  /** The relay: given the outbox rows of a unit of work once it commits, so it need not read them back. */
  readonly relay?: CommittedRows;
  /** Deferred states (viewReactor): 0 for either writes every changed state in its unit of work. */
  readonly config?: { readonly STATE_FLUSH_MS?: number; readonly STATE_MAX_DEFERRED?: number };
}

export interface SubscriberKey {
  readonly tenant_id: string;
  readonly subscriber_id: string;
}

export const keyString = (k: SubscriberKey): string => `${k.tenant_id}\u0000${k.subscriber_id}`;

/** Bulk access to a per-subscriber state: one query to load a batch's, one to save the changed ones. */
export interface StateStore<S> {
  load(tx: Tx, keys: readonly SubscriberKey[]): Promise<Map<string, S>>;
  save(tx: Tx, changed: ReadonlyArray<{ readonly key: SubscriberKey; readonly state: S }>): Promise<void>;
}

/** What lives as long as one unit of work: a service's cache of rows it has locked, say. */
export interface UnitScope {
  /** The value under `key` for this unit of work, made by `init` on first use. */
  get<T>(key: string, init: () => T): T;
  /** Runs `fn` in the transaction after every event of the unit, before the states are saved. */
  beforeCommit(fn: () => Promise<void>): void;
  /** Runs `fn` once the unit of work has committed (e.g. wake a dispatcher). */
  onCommit(fn: () => void): void;
}

export interface Step<S> {
  readonly tx: Tx;
  readonly unit: UnitScope;
  readonly message: Message;
  readonly key: SubscriberKey;
  /** The subscriber's state before this event (undefined: none stored yet). */
  readonly state: S | undefined;
  readonly log: Logger;
}

export interface Reaction<S> {
  /** The new state; omitted or the same object: unchanged. */
  readonly state?: S | undefined;
  readonly out?: readonly Outgoing[];
  /** An effect held for the end of the unit of work (beforeCommit): the state is written with it, like any effect's. */
  readonly effect?: boolean;
}

export interface KeyedReactorSpec<S> {
  readonly accepts: (type: EventName, topic: string) => boolean;
  readonly store: StateStore<S>;
  react(step: Step<S>): Promise<Reaction<S>>;
  /** After every event of the batch: more outgoing events from the changed states (e.g. one snapshot per subscriber). */
  settle?(changed: ReadonlyArray<{ readonly key: SubscriberKey; readonly state: S; readonly last: Incoming }>): readonly Outgoing[];
  /**
   * false for a pure fold that recognises an event it has already folded (the projection's
   * timeline): no inbox rows, a redelivery changes nothing and so emits nothing.
   */
  readonly inbox?: boolean;
}

const subscriberKeyOf = (m: Message): SubscriberKey => {
  const subscriber = m.meta.subscriber_id;
  if (!subscriber) throw new PoisonMessageError("invalid", `${m.type} carries no meta.subscriber_id`);
  return { tenant_id: m.meta.tenant_id, subscriber_id: subscriber };
};

/** A unit of work's scope, with the hooks it collected. */
function unitScope(): { unit: UnitScope; flushes: Array<() => Promise<void>>; committed: Array<() => void> } {
  const committed: Array<() => void> = [];
  const scratch = new Map<string, unknown>();
  const flushes: Array<() => Promise<void>> = [];
  const unit: UnitScope = {
    get: <T>(key: string, init: () => T): T => {
      if (!scratch.has(key)) scratch.set(key, init());
      return scratch.get(key) as T;
    },
    beforeCommit: (fn) => flushes.push(fn),
    onCommit: (fn) => committed.push(fn),
  };
  return { unit, flushes, committed };
}

/** Every item's key, before the transaction: one without a subscriber is poison on its own. */
const keysOf = (items: readonly Incoming[]): SubscriberKey[] =>
  items.map((it, index) => {
    try {
      return subscriberKeyOf(it.message);
    } catch (err) {
      throw new ItemFailure(index, err);
    }
  });

export function keyedReactor<S>(deps: UnitDeps, spec: KeyedReactorSpec<S>): BatchReactor {
  return {
    accepts: spec.accepts,
    async run(items) {
      const { unit, flushes, committed } = unitScope();
      const keyOf = keysOf(items);
      let saving: Promise<void> | undefined;
      await processBatch(deps.db, deps.tables, deps.catalog, deps.name, items, async (tx, fresh) => {
        const wanted = new Map(fresh.map(({ index }) => [keyString(keyOf[index]!), keyOf[index]!]));
        const states = await spec.store.load(tx, [...wanted.values()]);
        const changed = new Map<string, { key: SubscriberKey; state: S; last: Incoming }>();
        const out: Outgoing[] = [];
        for (const { index, item } of fresh) {
          const key = keyOf[index]!;
          const ks = keyString(key);
          const before = states.get(ks);
          let reaction: Reaction<S>;
          try {
            reaction = await spec.react({ tx, unit, message: item.message, key, state: before, log: item.log });
          } catch (err) {
            throw new ItemFailure(index, err);
          }
          if (reaction.state !== undefined && reaction.state !== before) {
            states.set(ks, reaction.state);
            changed.set(ks, { key, state: reaction.state, last: item });
          }
          if (reaction.out) out.push(...reaction.out);
        }
        for (const fn of flushes) await fn();
        const list = [...changed.values()];
        if (spec.settle) out.push(...spec.settle(list));
        // Saved while processBatch writes the outbox (pipelined on the unit's connection).
        if (list.length > 0) saving = spec.store.save(tx, list);
        return out;
      }, { inbox: spec.inbox ?? true, committedTo: deps.relay, alongside: () => saving });
      for (const fn of committed) fn();
    },
  };
}

/**
 * One call per new event, in order, inside the batch's unit of work. `prefetch` sees the new
 * events first, for reads many calls would make one by one (kept in `unit`); the unit's
 * beforeCommit hooks run after the last call.
 */
export function perEvent(
  deps: UnitDeps,
  accepts: (type: EventName, topic: string) => boolean,
  handle: (tx: Tx, item: Incoming, unit: UnitScope) => Promise<readonly Outgoing[]>,
  options: { readonly prefetch?: (batch: Prefetch) => Promise<void>; readonly afterCommit?: (applied: number) => void } = {},
): BatchReactor {
  return {
    accepts,
    async run(items) {
      const { unit, flushes, committed } = unitScope();
      const applied = await processBatch(
        deps.db,
        deps.tables,
        deps.catalog,
        deps.name,
        items,
        async (tx, fresh) => {
          if (options.prefetch) await options.prefetch({ tx, unit, messages: fresh.map(({ item }) => item.message) });
          const out: Outgoing[] = [];
          for (const { index, item } of fresh) {
            try {
              out.push(...(await handle(tx, item, unit)));
            } catch (err) {
              throw new ItemFailure(index, err);
            }
          }
          for (const fn of flushes) await fn();
          return out;
        },
        { committedTo: deps.relay },
      );
      options.afterCommit?.(applied);
      for (const fn of committed) fn();
    },
  };
}

/** Routes each batch to the reactor of the topic it came from. */
export function byTopic(reactors: Readonly<Record<string, BatchReactor>>): BatchReactor {
  const withDeferred = Object.values(reactors).flatMap((r) => (r.deferred ? [r.deferred] : []));
  return {
    deferred:
      withDeferred.length === 0
        ? undefined
        : {
            pendingFrom: (topic, partition) => {
              const all = withDeferred.map((d) => d.pendingFrom(topic, partition)).filter((o): o is bigint => o !== undefined);
              return all.length === 0 ? undefined : all.reduce((a, b) => (b < a ? b : a));
            },
            size: () => withDeferred.reduce((n, d) => n + d.size(), 0),
            flush: async () => {
              for (const d of withDeferred) await d.flush();
            },
            discard: () => withDeferred.forEach((d) => d.discard()),
            invalidate: () => withDeferred.forEach((d) => d.invalidate()),
          },
    accepts: (type, topic) => reactors[topic]?.accepts(type, topic) ?? false,
    run: async (items) => {
      const topic = items[0]?.delivery.topic;
      const r = topic === undefined ? undefined : reactors[topic];
      if (r) await r.run(items);
    },
  };
}

// ---- the shared view, with deferred states --------------------------------------------------

/** What a view service keeps per subscriber: the shared view and its own decisions. */
export interface ViewRecord<S> {
  readonly view: SubscriberView | null;
  readonly state: S;
}

/** Where a stored state stands in its topic: the partition and offset of the last event folded into it. */
export interface Position {
  readonly partition: number;
  readonly offset: bigint;
}

interface Positioned<S> {
  readonly key: SubscriberKey;
  readonly state: S;
  readonly at: Position | null;
}

/** The runtime's subscriber_state table (view + state jsonb + position), loaded and saved in bulk. */
export function viewStore<S>(table: SubscriberStateTable, initial: S) {
  return {
    async load(tx: Tx, keys: readonly SubscriberKey[]): Promise<Map<string, Positioned<ViewRecord<S>>>> {
      const out = new Map<string, Positioned<ViewRecord<S>>>();
      if (keys.length === 0) return out;
      // One index lookup per key whatever the statistics say: `offset 0` keeps PostgreSQL from flattening
      // the lateral subquery into a hash join over the whole table (docs/decisions.md, "Reads by key").
      const rows = await tx.execute<{ tenant_id: string; subscriber_id: string; view: StoredView | SubscriberView | null; state: S | null; at_partition: number | null; at_offset: string | null }>(sql`
        select s.tenant_id, s.subscriber_id, s.view, s.state, s.at_partition, s.at_offset
        from jsonb_to_recordset(${JSON.stringify(keys)}::jsonb) as k(tenant_id text, subscriber_id text)
        cross join lateral (select * from ${table} s where s.tenant_id = k.tenant_id and s.subscriber_id = k.subscriber_id offset 0) s`);
      for (const r of rows) {
        const at = r.at_partition === null || r.at_offset === null ? null : { partition: r.at_partition, offset: BigInt(r.at_offset) };
        const view = r.view === null ? null : viewFromStored(r.view);
        out.set(keyString(r), { key: { tenant_id: r.tenant_id, subscriber_id: r.subscriber_id }, state: { view, state: r.state ?? initial }, at });
      }
      return out;
    },
    /**
     * Writes each state unless the stored one already stands further in the same partition, so
     * a late write (a flush after a rebalance moved the partition) never takes a row backwards.
     */
    async save(tx: Tx, changed: ReadonlyArray<Positioned<ViewRecord<S>>>): Promise<void> {
      for (let i = 0; i < changed.length; i += 2000) {
        const rows = changed.slice(i, i + 2000).map(({ key, state, at }) => ({
          tenant_id: key.tenant_id,
          subscriber_id: key.subscriber_id,
          view: state.view === null ? null : storedView(state.view),
          state: state.state,
          at_partition: at?.partition ?? null,
          at_offset: at === null ? null : String(at.offset),
        }));
        await tx.execute(sql`
          insert into ${table} as s (tenant_id, subscriber_id, view, state, at_partition, at_offset)
          select x.tenant_id, x.subscriber_id, x.view, x.state, x.at_partition, x.at_offset
          from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as x(tenant_id text, subscriber_id text, view jsonb, state jsonb, at_partition int, at_offset bigint)
          on conflict (tenant_id, subscriber_id) do update
            set view = excluded.view, state = excluded.state, at_partition = excluded.at_partition, at_offset = excluded.at_offset, updated_at = now()
            where s.at_offset is null or excluded.at_offset is null or s.at_partition is distinct from excluded.at_partition or s.at_offset < excluded.at_offset`);
      }
    },
  };
}

/** A transaction that tells `onUse` whenever a reaction touches it (reads or writes). */
function watched(tx: Tx, onUse: () => void): Tx {
  return new Proxy(tx, {
    get(target, prop, receiver) {
      onUse();
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

interface Held<S> {
  readonly key: SubscriberKey;
  readonly state: S;
  readonly at: Position;
  /** Offset of the first event folded in since the state was last written. */
  readonly since: bigint;
}

interface DeferredSpec<S> {
  readonly topic: string;
  readonly accepts: (type: EventName, topic: string) => boolean;
  readonly store: {
    load(tx: Tx, keys: readonly SubscriberKey[]): Promise<Map<string, Positioned<S>>>;
    save(tx: Tx, rows: ReadonlyArray<Positioned<S>>): Promise<void>;
  };
  react(step: Step<S>): Promise<Reaction<S>>;
  prefetch?(batch: Prefetch): Promise<void>;
  /** The state after an event that certainly causes nothing (see ViewReactorSpec.quiet), or undefined. */
  quiet?(message: Message, state: S): S | undefined;
}

/** A unit of work's new events, before the first reaction: for reading in one statement what many reactions will need. */
export interface Prefetch {
  readonly tx: Tx;
  readonly unit: UnitScope;
  readonly messages: readonly Message[];
}

/**
 * A per-subscriber reactor whose states are written only when it matters:
 * - a reaction that emits events or touches the database (an effect) is written in its unit of
 *   work with its subscriber's state, an inbox row and its outbox rows, as keyedReactor does;
 * - a state changed only by folding events that caused nothing (most of the lifecycle, for most
 *   services) is held in memory and written later, many units of work in one statement. Kafka
 *   is its log meanwhile: the consumer commits no offset past such an event, so after a crash
 *   the events are delivered again and folded again.
 * Each stored state carries the position of the last event folded into it: a redelivered event
 * at or below it is skipped, so nothing is folded twice. An event whose effect was recorded
 * (its id in the inbox) is skipped wherever it comes from, a relay's republished copy included.
 * A republished copy of an event that caused nothing is folded again, which changes nothing:
 * every field of the view is set by the events of one producer, whose later events come after
 * the copy in the partition.
 */
function deferredReactor<S>(deps: UnitDeps, spec: DeferredSpec<S>): BatchReactor {
  // The cap on held states is the consumer's (STATE_MAX_DEFERRED); here only whether to hold any.
  const deferring = deps.config?.STATE_FLUSH_MS !== 0 && deps.config?.STATE_MAX_DEFERRED !== 0;
  const held = new Map<string, Held<S>>();
  // States as this member last wrote them, so the next events of a subscriber need no read: kept
  // only from units of work that committed within the current group generation (a rebalance
  // clears them: another member may have changed a state since), at most maxClean, oldest out:
  // a subscriber's events come seconds apart, so the last few thousand written are the ones
  // that matter (a view and state is a few KB).
  const clean = new Map<string, { readonly key: SubscriberKey; readonly state: S; readonly at: Position }>();
  const maxClean = 5_000;
  let epoch = 0;
  const remember = (ks: string, entry: { readonly key: SubscriberKey; readonly state: S; readonly at: Position }): void => {
    clean.delete(ks);
    clean.set(ks, entry);
    for (const k of clean.keys()) {
      if (clean.size <= maxClean) break;
      clean.delete(k);
    }
  };
  const deferred: DeferredStates = {
    pendingFrom(topic, partition) {
      if (topic !== spec.topic) return undefined;
      let min: bigint | undefined;
      for (const h of held.values()) if (h.at.partition === partition && (min === undefined || h.since < min)) min = h.since;
      return min;
    },
    size: () => held.size,
    async flush() {
      if (held.size === 0) return;
      const rows = [...held.entries()];
      try {
        await deps.db.transaction((tx) => spec.store.save(tx, rows.map(([, h]) => h)));
      } catch (err) {
        if (isTransient(err)) throw err;
        // One state PostgreSQL refuses must not keep every other one (and every partition's
        // offset) in memory: write them one by one; what still fails stays held, and only its
        // partition's offset waits (logged by the consumer).
        let failed: unknown;
        for (const [ks, h] of rows) {
          try {
            await deps.db.transaction((tx) => spec.store.save(tx, [h]));
            if (held.get(ks) === h) held.delete(ks);
          } catch (one) {
            if (isTransient(one)) throw one;
            failed ??= new Error(`the state of ${h.key.tenant_id}/${h.key.subscriber_id} (held since offset ${h.since} of partition ${h.at.partition}) could not be written`, { cause: one });
          }
        }
        if (failed) throw failed;
        return;
      }
      for (const [ks, h] of rows) if (held.get(ks) === h) held.delete(ks);
    },
    discard: () => {
      held.clear();
      clean.clear();
    },
    invalidate: () => {
      epoch += 1;
      clean.clear();
    },
  };
  return {
    accepts: spec.accepts,
    deferred: deferring ? deferred : undefined,
    async run(all) {
      const unitEpoch = epoch;
      const allKeys = keysOf(all);
      // Quiet events first, with no transaction: an event that certainly causes nothing (the
      // service's `quiet`) for a subscriber whose state is in memory is folded there, and held
      // like any fold (Kafka is its log until the state is written). The rest of a subscriber's
      // events, from its first one that may act or whose state is not in memory, go to the unit
      // of work below, in order. A quiet event is not looked up in the inbox: one that had an
      // effect before (a relay's republished copy) causes nothing when folded again.
      let todo: number[] = all.map((_, i) => i);
      if (deferring && spec.quiet) {
        todo = [];
        const blocked = new Set<string>();
        const seenIds = new Set<string>();
        for (const [index, item] of all.entries()) {
          const key = allKeys[index]!;
          const ks = keyString(key);
          const h = held.get(ks);
          const c = h ? undefined : clean.get(ks);
          const mem = h ?? c;
          if (blocked.has(ks) || !mem) {
            blocked.add(ks);
            todo.push(index);
            continue;
          }
          const id = item.message.meta.event_id;
          const at: Position = { partition: item.delivery.partition, offset: BigInt(item.delivery.offset) };
          if (seenIds.has(id) || (mem.at.partition === at.partition && at.offset <= mem.at.offset)) continue; // folded already
          const next = spec.quiet(item.message, mem.state);
          if (next === undefined) {
            blocked.add(ks);
            todo.push(index);
            continue;
          }
          seenIds.add(id);
          if (next === mem.state) continue;
          held.set(ks, { key, state: next, at, since: h ? h.since : at.offset });
          if (c) clean.delete(ks);
        }
        if (todo.length === 0) return;
      }
      const items = todo.map((i) => all[i]!);
      const keyOf = todo.map((i) => allKeys[i]!);
      const { unit, flushes, committed } = unitScope();
      /** What this unit changed, by subscriber: applied to `held` only once it commits. */
      const touchedStates = new Map<string, Held<S> & { readonly now: boolean }>();
      let written: OutboxRow[] = [];
      await deps.db.transaction(async (raw) => {
        // One unit at a time per partition across the service's processes: a member that lost a
        // partition and does not know it yet (a zombie) and its new owner queue here, and the
        // second then finds the first's inbox rows and positions.
        const partitions = [...new Set(items.map((it) => `${deps.name}:${it.delivery.topic}:${it.delivery.partition}`))].map((k) => lockKey(k).toString());
        let current: number | null = null;
        const used = new Set<number>();
        const tx = watched(raw, () => {
          if (current !== null) used.add(current);
        });
        const ids = [...new Set(items.map((it) => it.message.meta.event_id))];
        const missing = new Map<string, SubscriberKey>();
        for (const key of keyOf) {
          const ks = keyString(key);
          if (!held.has(ks) && !clean.has(ks)) missing.set(ks, key);
        }
        // The lock, the inbox read and the states' read go out together (pipelined on the unit's
        // connection, which runs them in this order: the lock is held before the inbox is read).
        const [, doneRows, stored] = await Promise.all([
          raw.execute(sql`select pg_advisory_xact_lock(k::bigint) from jsonb_array_elements_text(${JSON.stringify(partitions)}::jsonb) as k order by k::bigint`),
          raw.execute<{ event_id: string }>(sql`
            select event_id from ${deps.tables.inbox}
            where consumer = ${deps.name} and event_id = any(array(select jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb)))`),
          spec.store.load(raw, [...missing.values()]),
        ]);
        const done = new Set(doneRows.map((r) => r.event_id));
        const stateOf = (ks: string): { state: S | undefined; at: Position | null; since: bigint | null; now: boolean } => {
          const t = touchedStates.get(ks) ?? held.get(ks);
          if (t) return { state: t.state, at: t.at, since: t.since, now: touchedStates.get(ks)?.now ?? false };
          const s = clean.get(ks) ?? stored.get(ks);
          return { state: s?.state, at: s?.at ?? null, since: null, now: false };
        };
        if (spec.prefetch) {
          const fresh = items.filter((it) => !done.has(it.message.meta.event_id)).map((it) => it.message);
          if (fresh.length > 0) await spec.prefetch({ tx: raw, unit, messages: fresh });
        }
        const effects: Incoming[] = [];
        const out: Outgoing[] = [];
        const seen = new Set<string>();
        for (const [index, item] of items.entries()) {
          const id = item.message.meta.event_id;
          if (done.has(id) || seen.has(id)) continue;
          seen.add(id);
          const key = keyOf[index]!;
          const ks = keyString(key);
          const before = stateOf(ks);
          const at: Position = { partition: item.delivery.partition, offset: BigInt(item.delivery.offset) };
          if (before.at && before.at.partition === at.partition && at.offset <= before.at.offset) continue; // folded already
          let reaction: Reaction<S>;
          current = index;
          try {
            reaction = await spec.react({ tx, unit, message: item.message, key, state: before.state, log: item.log });
          } catch (err) {
            throw new ItemFailure(index, err);
          } finally {
            current = null;
          }
          const effect = used.has(index) || reaction.effect === true || (reaction.out?.length ?? 0) > 0;
          const state = reaction.state !== undefined ? reaction.state : before.state;
          if (effect) effects.push(item);
          if (reaction.out) out.push(...reaction.out);
          if (state === undefined || (state === before.state && !effect)) continue;
          touchedStates.set(ks, { key, state, at, since: before.since ?? at.offset, now: before.now || effect || !deferring });
        }
        for (const fn of flushes) await fn();
        const now = [...touchedStates.values()].filter((t) => t.now);
        // The unit's writes go out together too (pipelined).
        const [, , rows] = await Promise.all([
          now.length > 0 ? spec.store.save(raw, now) : undefined,
          recordInbox(raw, deps.tables, deps.name, effects),
          enqueueFor(raw, deps.tables, deps.catalog, out, items),
        ]);
        written = rows;
      });
      if (written.length > 0) deps.relay?.offer(written);
      for (const [ks, t] of touchedStates) {
        if (t.now) {
          held.delete(ks);
          if (epoch === unitEpoch) remember(ks, { key: t.key, state: t.state, at: t.at });
          else clean.delete(ks);
        } else {
          held.set(ks, { key: t.key, state: t.state, at: t.at, since: t.since });
          clean.delete(ks);
        }
      }
      for (const fn of committed) fn();
    },
  };
}

export interface ViewStep<S> {
  readonly tx: Tx;
  readonly unit: UnitScope;
  readonly message: Message;
  readonly key: SubscriberKey;
  /** The shared view with this event folded in; null until SubscriberCreated was seen. */
  readonly view: SubscriberView | null;
  /** The view before this event. */
  readonly viewBefore: SubscriberView | null;
  readonly state: S;
  readonly log: Logger;
}

export interface ViewReactorSpec<S> {
  readonly initial: S;
  readonly table: SubscriberStateTable;
  /** Types the service decides on besides the ones the shared view folds (e.g. suspend requests). */
  readonly triggers?: readonly EventName[];
  react(step: ViewStep<S>): Promise<{ readonly state?: S; readonly out?: readonly Outgoing[]; readonly effect?: boolean }>;
  /**
   * Once per unit of work, before its first reaction, with its new events: reads in one
   * statement what the reactions would each read (kept in `unit`). A reaction must find the
   * same rows either way: only the unit's own writes change them, and it keeps them up to date.
   */
  prefetch?(batch: Prefetch): Promise<void>;
  /**
   * The service's state after an event that certainly causes nothing: no event out, no read or
   * write of the database, no call to anything outside. Undefined when the event may act (react
   * then runs). With it, such an event of a subscriber whose state is in memory costs no
   * transaction (deferredReactor). Must be pure, and must say undefined when unsure.
   */
  quiet?(step: { readonly message: Message; readonly view: SubscriberView | null; readonly viewBefore: SubscriberView | null; readonly state: S }): S | undefined;
}

/**
 * A service that decides on the shared view of a subscriber: the one fold (subscriber-view.ts)
 * runs here for every event it folds, and the service's `react` sees the view after it. The list
 * of events is the fold's, plus the service's own triggers: no service repeats it. States are
 * deferred (deferredReactor): only a reaction with an effect writes in its own unit of work.
 */
export function viewReactor<S>(deps: UnitDeps & { readonly topic: string }, spec: ViewReactorSpec<S>): BatchReactor {
  const types = new Set<EventName>([...viewEvents, ...(spec.triggers ?? [])]);
  return deferredReactor<ViewRecord<S>>(deps, {
    topic: deps.topic,
    accepts: (type, topic) => topic === deps.topic && types.has(type),
    store: viewStore(spec.table, spec.initial),
    prefetch: spec.prefetch,
    quiet: spec.quiet
      ? (message, record) => {
          const view = evolveView(record.view, message);
          const own = spec.quiet?.({ message, view, viewBefore: record.view, state: record.state });
          if (own === undefined) return undefined;
          return view === record.view && own === record.state ? record : { view, state: own };
        }
      : undefined,
    async react({ tx, unit, message, key, state, log }) {
      const before = state ?? { view: null, state: spec.initial };
      const view = evolveView(before.view, message);
      const r = await spec.react({ tx, unit, message, key, view, viewBefore: before.view, state: before.state, log });
      const next = r.state ?? before.state;
      if (view === before.view && next === before.state) return { out: r.out, effect: r.effect };
      return { state: { view, state: next }, out: r.out, effect: r.effect };
    },
  });
}
