CREATE SCHEMA IF NOT EXISTS "projection";
--> statement-breakpoint
CREATE TABLE "projection"."inbox" (
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
CREATE TABLE "projection"."outbox" (
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
CREATE TABLE "projection"."service_entities" (
	"tenant_id" text NOT NULL,
	"subscriber_id" text NOT NULL,
	"status" text NOT NULL,
	"service_metadata" jsonb NOT NULL,
	"timeline" jsonb NOT NULL,
	"degraded_reasons" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"last_event_id" text NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "service_entities_tenant_id_subscriber_id_pk" PRIMARY KEY("tenant_id","subscriber_id")
);
--> statement-breakpoint
CREATE INDEX "outbox_unpublished" ON "projection"."outbox" USING btree ("id") WHERE "projection"."outbox"."published_at" is null;--> statement-breakpoint
CREATE INDEX "service_entities_tenant_status" ON "projection"."service_entities" USING btree ("tenant_id","status");