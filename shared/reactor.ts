// The two shapes a service's reaction to a batch takes, on top of the unit of work of outbox.ts:
// - keyedReactor: per subscriber. The state of every subscriber in the batch is loaded in one
//   query, each event is folded and decided in partition order, the changed states are saved in
//   one query and the outgoing events written in one: a handful of statements per batch, however
//   many events it holds. Services with a view of the subscriber use viewReactor (below), which
//   folds the shared SubscriberView for them.
// - perEvent: one call per event inside the batch's transaction (order intake, fixtures).
import { sql } from "drizzle-orm";
import type { EventName, Message } from "../schemas/generated/events.js";
import type { Catalog } from "../schemas/catalog.js";
import type { BatchReactor, Incoming } from "./consumer.js";
import type { Db } from "./db.js";
import { ItemFailure, PoisonMessageError } from "./errors.js";
import type { Logger } from "./logger.js";
import { processBatch, type Outgoing, type Tx } from "./outbox.js";
import type { RuntimeTables, SubscriberStateTable } from "./runtime-tables.js";
import { evolveView, viewEvents, type SubscriberView } from "./subscriber-view.js";

/** What the runtime needs to run a unit of work: the service's database, tables and contract. */
export interface UnitDeps {
  readonly name: string;
  readonly db: Db;
  readonly tables: RuntimeTables;
  readonly catalog: Catalog;
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
}

export interface KeyedReactorSpec<S> {
  readonly accepts: (type: EventName, topic: string) => boolean;
  readonly store: StateStore<S>;
  react(step: Step<S>): Promise<Reaction<S>>;
  /** After every event of the batch: more outgoing events from the changed states (e.g. one snapshot per subscriber). */
  settle?(changed: ReadonlyArray<{ readonly key: SubscriberKey; readonly state: S; readonly last: Incoming }>): readonly Outgoing[];
}

const subscriberKeyOf = (m: Message): SubscriberKey => {
  const subscriber = m.meta.subscriber_id;
  if (!subscriber) throw new PoisonMessageError("invalid", `${m.type} carries no meta.subscriber_id`);
  return { tenant_id: m.meta.tenant_id, subscriber_id: subscriber };
};

export function keyedReactor<S>(deps: UnitDeps, spec: KeyedReactorSpec<S>): BatchReactor {
  return {
    accepts: spec.accepts,
    async run(items) {
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
      // Every item's key before the transaction: one without a subscriber is poison on its own.
      const keyOf = items.map((it, index) => {
        try {
          return subscriberKeyOf(it.message);
        } catch (err) {
          throw new ItemFailure(index, err);
        }
      });
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
        if (list.length > 0) await spec.store.save(tx, list);
        if (spec.settle) out.push(...spec.settle(list));
        return out;
      });
      for (const fn of committed) fn();
    },
  };
}

/** One call per new event, in order, inside the batch's unit of work. */
export function perEvent(
  deps: UnitDeps,
  accepts: (type: EventName, topic: string) => boolean,
  handle: (tx: Tx, item: Incoming) => Promise<readonly Outgoing[]>,
  afterCommit?: (applied: number) => void,
): BatchReactor {
  return {
    accepts,
    async run(items) {
      const applied = await processBatch(deps.db, deps.tables, deps.catalog, deps.name, items, async (tx, fresh) => {
        const out: Outgoing[] = [];
        for (const { index, item } of fresh) {
          try {
            out.push(...(await handle(tx, item)));
          } catch (err) {
            throw new ItemFailure(index, err);
          }
        }
        return out;
      });
      afterCommit?.(applied);
    },
  };
}

/** Routes each batch to the reactor of the topic it came from. */
export function byTopic(reactors: Readonly<Record<string, BatchReactor>>): BatchReactor {
  return {
    accepts: (type, topic) => reactors[topic]?.accepts(type, topic) ?? false,
    run: async (items) => {
      const topic = items[0]?.delivery.topic;
      const r = topic === undefined ? undefined : reactors[topic];
      if (r) await r.run(items);
    },
  };
}

// ---- the shared view ------------------------------------------------------------------------

/** What a view service keeps per subscriber: the shared view and its own decisions. */
export interface ViewRecord<S> {
  readonly view: SubscriberView | null;
  readonly state: S;
}

/** The runtime's subscriber_state table (view + state jsonb), loaded and saved in bulk. */
export function viewStore<S>(table: SubscriberStateTable, initial: S): StateStore<ViewRecord<S>> {
  return {
    async load(tx, keys) {
      const out = new Map<string, ViewRecord<S>>();
      if (keys.length === 0) return out;
      const rows = await tx.execute<{ tenant_id: string; subscriber_id: string; view: SubscriberView | null; state: S | null }>(sql`
        select s.tenant_id, s.subscriber_id, s.view, s.state
        from ${table} s
        join jsonb_to_recordset(${JSON.stringify(keys)}::jsonb) as k(tenant_id text, subscriber_id text)
          on s.tenant_id = k.tenant_id and s.subscriber_id = k.subscriber_id`);
      for (const r of rows) out.set(keyString(r), { view: r.view, state: r.state ?? initial });
      return out;
    },
    async save(tx, changed) {
      const rows = changed.map(({ key, state }) => ({ tenant_id: key.tenant_id, subscriber_id: key.subscriber_id, view: state.view, state: state.state }));
      await tx.execute(sql`
        insert into ${table} (tenant_id, subscriber_id, view, state)
        select x.tenant_id, x.subscriber_id, x.view, x.state
        from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as x(tenant_id text, subscriber_id text, view jsonb, state jsonb)
        on conflict (tenant_id, subscriber_id) do update set view = excluded.view, state = excluded.state, updated_at = now()`);
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
  react(step: ViewStep<S>): Promise<{ readonly state?: S; readonly out?: readonly Outgoing[] }>;
}

/**
 * A service that decides on the shared view of a subscriber: the one fold (subscriber-view.ts)
 * runs here for every event it folds, and the service's `react` sees the view after it. The list
 * of events is the fold's, plus the service's own triggers: no service repeats it.
 */
export function viewReactor<S>(deps: UnitDeps & { readonly topic: string }, spec: ViewReactorSpec<S>): BatchReactor {
  const types = new Set<EventName>([...viewEvents, ...(spec.triggers ?? [])]);
  return keyedReactor<ViewRecord<S>>(deps, {
    accepts: (type, topic) => topic === deps.topic && types.has(type),
    store: viewStore(spec.table, spec.initial),
    async react({ tx, unit, message, key, state, log }) {
      const before = state ?? { view: null, state: spec.initial };
      const view = evolveView(before.view, message);
      const r = await spec.react({ tx, unit, message, key, view, viewBefore: before.view, state: before.state, log });
      const next = r.state ?? before.state;
      if (view === before.view && next === before.state) return { out: r.out };
      return { state: { view, state: next }, out: r.out };
    },
  });
}
