CREATE SCHEMA IF NOT EXISTS "profile";
--> statement-breakpoint
CREATE TABLE "profile"."inbox" (
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
CREATE TABLE "profile"."outbox" (
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
CREATE TABLE "profile"."subscriber_network_profiles" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"subscriber_id" text NOT NULL,
	"service_vlan" integer,
	"inner_vlan" integer,
	"qinq_enabled" boolean DEFAULT false NOT NULL,
	"vlan_pool" text,
	"circuit_id" text,
	"remote_id" text,
	"option82_policy" text DEFAULT 'log' NOT NULL,
	"static_ipv4" text,
	"static_ipv6" text,
	"delegated_ipv6_prefix" text,
	"ipv6_pd_size" integer,
	"ipv6_assignment_mode" text DEFAULT 'none' NOT NULL,
	"ipv4_pool" text,
	"ipv6_pool" text,
	"ipv6_pd_pool" text,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	CONSTRAINT "service_vlan_range" CHECK ("profile"."subscriber_network_profiles"."service_vlan" between 1 and 4094),
	CONSTRAINT "inner_vlan_range" CHECK ("profile"."subscriber_network_profiles"."inner_vlan" between 1 and 4094),
	CONSTRAINT "ipv6_pd_size_range" CHECK ("profile"."subscriber_network_profiles"."ipv6_pd_size" between 48 and 64),
	CONSTRAINT "option82_policy_known" CHECK ("profile"."subscriber_network_profiles"."option82_policy" in ('enforce', 'log', 'ignore')),
	CONSTRAINT "ipv6_assignment_mode_known" CHECK ("profile"."subscriber_network_profiles"."ipv6_assignment_mode" in ('none', 'slaac', 'stateful', 'pd', 'dual_stack'))
);
--> statement-breakpoint
CREATE TABLE "profile"."subscribers" (
	"tenant_id" text NOT NULL,
	"subscriber_id" text NOT NULL,
	"view" jsonb NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "subscribers_tenant_id_subscriber_id_pk" PRIMARY KEY("tenant_id","subscriber_id")
);
--> statement-breakpoint
CREATE INDEX "outbox_unpublished" ON "profile"."outbox" USING btree ("id") WHERE "profile"."outbox"."published_at" is null;--> statement-breakpoint
CREATE UNIQUE INDEX "subscriber_network_profiles_tenant_subscriber" ON "profile"."subscriber_network_profiles" USING btree ("tenant_id","subscriber_id");--> statement-breakpoint
CREATE UNIQUE INDEX "subscriber_network_profiles_qinq_pair" ON "profile"."subscriber_network_profiles" USING btree ("tenant_id","service_vlan","inner_vlan") WHERE "profile"."subscriber_network_profiles"."qinq_enabled" and "profile"."subscriber_network_profiles"."deleted_at" is null and "profile"."subscriber_network_profiles"."service_vlan" is not null and "profile"."subscriber_network_profiles"."inner_vlan" is not null;--> statement-breakpoint
CREATE INDEX "subscriber_network_profiles_tenant_vlan" ON "profile"."subscriber_network_profiles" USING btree ("tenant_id","service_vlan");