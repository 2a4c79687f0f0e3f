CREATE SCHEMA IF NOT EXISTS "olt";
--> statement-breakpoint
CREATE TABLE "olt"."failure_injections" (
	"tenant_id" text NOT NULL,
	"serial" text NOT NULL,
	"operation" text NOT NULL,
	"error" text NOT NULL,
	"remaining" integer DEFAULT 1 NOT NULL,
	"permanent" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "failure_injections_tenant_id_serial_operation_pk" PRIMARY KEY("tenant_id","serial","operation")
);
--> statement-breakpoint
CREATE TABLE "olt"."inbox" (
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
CREATE TABLE "olt"."olts" (
	"tenant_id" text NOT NULL,
	"olt_id" text NOT NULL,
	"name" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "olts_tenant_id_olt_id_pk" PRIMARY KEY("tenant_id","olt_id")
);
--> statement-breakpoint
CREATE TABLE "olt"."onus" (
	"tenant_id" text NOT NULL,
	"serial" text NOT NULL,
	"olt_id" text NOT NULL,
	"pon_port" text NOT NULL,
	"onu_number" integer NOT NULL,
	"onu_id" text NOT NULL,
	"state" text DEFAULT 'discovered' NOT NULL,
	"discovered_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "onus_tenant_id_serial_pk" PRIMARY KEY("tenant_id","serial")
);
--> statement-breakpoint
CREATE TABLE "olt"."outbox" (
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
CREATE TABLE "olt"."pon_ports" (
	"tenant_id" text NOT NULL,
	"olt_id" text NOT NULL,
	"port" text NOT NULL,
	CONSTRAINT "pon_ports_tenant_id_olt_id_port_pk" PRIMARY KEY("tenant_id","olt_id","port")
);
--> statement-breakpoint
CREATE TABLE "olt"."service_flows" (
	"tenant_id" text NOT NULL,
	"serial" text NOT NULL,
	"onu_id" text NOT NULL,
	"subscriber_id" text NOT NULL,
	"s_vlan" integer,
	"c_vlan" integer,
	"bandwidth_mbps" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "service_flows_tenant_id_serial_pk" PRIMARY KEY("tenant_id","serial")
);
--> statement-breakpoint
CREATE TABLE "olt"."subscribers" (
	"tenant_id" text NOT NULL,
	"subscriber_id" text NOT NULL,
	"view" jsonb NOT NULL,
	"state" jsonb NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "subscribers_tenant_id_subscriber_id_pk" PRIMARY KEY("tenant_id","subscriber_id")
);
--> statement-breakpoint
CREATE UNIQUE INDEX "onus_number_on_port" ON "olt"."onus" USING btree ("tenant_id","olt_id","pon_port","onu_number");--> statement-breakpoint
CREATE INDEX "outbox_unpublished" ON "olt"."outbox" USING btree ("id") WHERE "olt"."outbox"."published_at" is null;--> statement-breakpoint
CREATE INDEX "service_flows_subscriber" ON "olt"."service_flows" USING btree ("tenant_id","subscriber_id");