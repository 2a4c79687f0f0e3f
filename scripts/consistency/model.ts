// What the consistency checker reads from each service's own store and from the topics, as plain
// records (read-db.ts, read-kafka.ts fill them), and what it reports. No infrastructure here.
import type { Message } from "../../schemas/generated/events.js";
import type { ProjectionDocument } from "../../services/projection/fold.js";
import type { Family } from "./ips.js";

/** The invariant families, in the order they are reported. */
export const invariants = [
  "unique-ips",
  "radius-ips",
  "active-complete",
  "nothing-left",
  "orders-terminal",
  "profile-ips",
  "projection-fold",
] as const;
export type Invariant = (typeof invariants)[number];

/** A breach, or (in `inFlight`) something not settled yet that is not a breach within the grace period. */
export interface Finding {
  readonly invariant: Invariant;
  readonly tenant: string;
  readonly subscriber: string | null;
  readonly detail: string;
}

export interface Report {
  readonly breaches: readonly Finding[];
  readonly inFlight: readonly Finding[];
}

export interface CheckOptions {
  /** Milliseconds since the epoch: the moment the stores were read. */
  readonly now: number;
  /** How long something may stay in flight before it is a breach. */
  readonly graceMs: number;
}

/** The subscriber service's row: its status is the truth about where the subscriber is. */
export interface SubscriberRecord {
  readonly tenant_id: string;
  readonly subscriber_id: string;
  /** provisioning | active | failed | rolled_back | suspended | terminating | archived */
  readonly status: string;
  readonly connection_type: string;
  /** The profile step said "skipped" (consumption disabled, or the row could not be stored): no profile is expected. */
  readonly profile_skipped: boolean;
  /** The lifecycle order in flight; `stalled` when a termination stopped and its order already failed. */
  readonly pending: { readonly order_id: string; readonly order_type: string; readonly stalled: string | null } | null;
  readonly last_progress_at: number;
}

export interface ProfileRecord {
  readonly tenant_id: string;
  readonly subscriber_id: string;
  readonly ips: Readonly<Record<Family, string | null>>;
  readonly deleted: boolean;
}

export interface AllocationRecord {
  readonly tenant_id: string;
  readonly subscriber_id: string;
  readonly family: Family;
  readonly address: string;
  readonly allocated_at: number;
}

/** An allocation whose unit is also on its pool's free list (it would be handed out again). */
export interface FreeListClash {
  readonly tenant_id: string;
  readonly subscriber_id: string;
  readonly family: Family;
  readonly address: string;
  readonly pool: string;
}

export interface RadiusAccountRecord {
  readonly tenant_id: string;
  readonly subscriber_id: string;
  readonly username: string;
  /** active | suspended | deleted */
  readonly status: string;
  /** reject | walled_garden, while suspended. */
  readonly suspend_mode: string | null;
}

/** A FreeRADIUS row of ours. The value of a radcheck row (a password hash) is never read. */
export interface RadiusRow {
  readonly tenant_id: string;
  readonly table: "radcheck" | "radreply" | "radusergroup";
  readonly username: string;
  readonly attribute: string;
  readonly value: string | null;
}

export interface FlowRecord {
  readonly tenant_id: string;
  readonly subscriber_id: string;
  readonly serial: string;
  /** The ONU's state on the OLT (discovered | active); null when the ONU row is gone. */
  readonly onu_state: string | null;
}

export interface BillingRecord {
  readonly tenant_id: string;
  readonly subscriber_id: string;
  readonly service_id: string;
  /** active | suspended | cancelled | terminated */
  readonly status: string;
}

/** Everything the services' own PostgreSQL schemas say, read in one snapshot. */
export interface Stores {
  readonly subscribers: readonly SubscriberRecord[];
  readonly profiles: readonly ProfileRecord[];
  readonly allocations: readonly AllocationRecord[];
  readonly freeListClashes: readonly FreeListClash[];
  readonly accounts: readonly RadiusAccountRecord[];
  readonly radiusRows: readonly RadiusRow[];
  readonly flows: readonly FlowRecord[];
  readonly billing: readonly BillingRecord[];
}

export const terminalOutcomes = ["OrderCompleted", "OrderFailed", "OrderRejected"] as const;

/** A CRM order from crm.orders.v1 and what crm.order-status.v1 said about it. */
export interface OrderRecord {
  readonly tenant_id: string;
  readonly order_id: string;
  /** ProvisionOrderPlaced, SuspendOrderPlaced, ... */
  readonly type: string;
  readonly subscriber_id: string | null;
  readonly placed_at: number;
  /** Every status seen for the order id, in topic order (OrderAccepted, OrderCompleted, ...). */
  readonly statuses: readonly string[];
}

/** One lifecycle event and where it sits in the topic. */
export interface LifecycleRecord {
  readonly partition: number;
  readonly offset: bigint;
  readonly message: Message;
}

export interface ProjectionInput {
  readonly documents: readonly ProjectionDocument[];
  /** The tenant(s)' lifecycle events in topic order (per partition, by offset). */
  readonly events: readonly LifecycleRecord[];
  /** The projection group's committed offset per partition of the lifecycle topic (absent: none). */
  readonly committed: ReadonlyMap<number, bigint>;
}

export const subscriberKey = (tenant: string, subscriber: string): string => `${tenant}\u0000${subscriber}`;
