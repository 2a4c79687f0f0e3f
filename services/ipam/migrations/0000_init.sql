CREATE SCHEMA IF NOT EXISTS "ipam";
--> statement-breakpoint
CREATE TABLE "ipam"."allocations" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"subscriber_id" text NOT NULL,
	"family" text NOT NULL,
	"address" text NOT NULL,
	"pool_id" text,
	"idx" numeric,
	"source" text NOT NULL,
	"allocated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "allocations_unique_address" UNIQUE("tenant_id","family","address"),
	CONSTRAINT "allocations_one_per_family" UNIQUE("tenant_id","subscriber_id","family")
);
--> statement-breakpoint
CREATE TABLE "ipam"."inbox" (
	"consumer" text NOT NULL,
	"event_id" text NOT NULL,
	"type" text NOT NULL,
	"topic" text NOT NULL,
	"partition" integer NOT NULL,
	"offset" bigint NOT NULL,
	"processed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "inbox_consumer_event_id_pk" PRIMARY KEY("consumer","event_id")
);
--> statement-breakpoint
CREATE TABLE "ipam"."outbox" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"event_id" text NOT NULL,
	"topic" text NOT NULL,
	"key" text NOT NULL,
	"type" text NOT NULL,
	"meta" jsonb NOT NULL,
	"data" jsonb NOT NULL,
	"headers" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"published_at" timestamp with time zone,
	CONSTRAINT "outbox_event_id_unique" UNIQUE("event_id")
);
--> statement-breakpoint
CREATE TABLE "ipam"."pools" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"name" text NOT NULL,
	"kind" text NOT NULL,
	"cidr" text NOT NULL,
	"gateway" text,
	"delegated_length" integer,
	"is_default" boolean DEFAULT false NOT NULL,
	"next_index" numeric NOT NULL,
	"size" numeric NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "pools_tenant_name" UNIQUE("tenant_id","name"),
	CONSTRAINT "pools_kind" CHECK ("ipam"."pools"."kind" in ('ipv4', 'ipv6', 'ipv6_pd')),
	CONSTRAINT "pools_pd_length" CHECK (("ipam"."pools"."kind" = 'ipv6_pd') = ("ipam"."pools"."delegated_length" is not null))
);
--> statement-breakpoint
CREATE TABLE "ipam"."released" (
	"tenant_id" text NOT NULL,
	"pool_id" text NOT NULL,
	"idx" numeric NOT NULL,
	"released_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "released_tenant_id_pool_id_idx_pk" PRIMARY KEY("tenant_id","pool_id","idx")
);
--> statement-breakpoint
CREATE TABLE "ipam"."reserved" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"pool_id" text NOT NULL,
	"first_index" numeric NOT NULL,
	"last_index" numeric NOT NULL,
	"label" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "ipam"."subscribers" (
	"tenant_id" text NOT NULL,
	"subscriber_id" text NOT NULL,
	"state" jsonb NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "subscribers_tenant_id_subscriber_id_pk" PRIMARY KEY("tenant_id","subscriber_id")
);
--> statement-breakpoint
ALTER TABLE "ipam"."allocations" ADD CONSTRAINT "allocations_pool_id_pools_id_fk" FOREIGN KEY ("pool_id") REFERENCES "ipam"."pools"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "ipam"."released" ADD CONSTRAINT "released_pool_id_pools_id_fk" FOREIGN KEY ("pool_id") REFERENCES "ipam"."pools"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "ipam"."reserved" ADD CONSTRAINT "reserved_pool_id_pools_id_fk" FOREIGN KEY ("pool_id") REFERENCES "ipam"."pools"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "allocations_pool" ON "ipam"."allocations" USING btree ("tenant_id","pool_id");--> statement-breakpoint
CREATE INDEX "outbox_unpublished" ON "ipam"."outbox" USING btree ("id") WHERE "ipam"."outbox"."published_at" is null;--> statement-breakpoint
CREATE UNIQUE INDEX "pools_one_default_per_kind" ON "ipam"."pools" USING btree ("tenant_id","kind") WHERE "ipam"."pools"."is_default";--> statement-breakpoint
CREATE INDEX "reserved_pool" ON "ipam"."reserved" USING btree ("tenant_id","pool_id");