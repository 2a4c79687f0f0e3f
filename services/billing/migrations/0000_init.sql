CREATE SCHEMA IF NOT EXISTS "billing";
--> statement-breakpoint
CREATE TABLE "billing"."billing_services" (
	"service_id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"subscriber_id" text NOT NULL,
	"plan_id" text NOT NULL,
	"monthly_price_cents" integer NOT NULL,
	"currency" text NOT NULL,
	"status" text NOT NULL,
	"started_at" timestamp with time zone NOT NULL,
	"ended_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "billing"."inbox" (
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
CREATE TABLE "billing"."outbox" (
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
CREATE TABLE "billing"."prices" (
	"tenant_id" text NOT NULL,
	"plan_id" text NOT NULL,
	"monthly_price_cents" integer NOT NULL,
	"currency" text NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "prices_tenant_id_plan_id_pk" PRIMARY KEY("tenant_id","plan_id")
);
--> statement-breakpoint
CREATE TABLE "billing"."subscribers" (
	"tenant_id" text NOT NULL,
	"subscriber_id" text NOT NULL,
	"view" jsonb NOT NULL,
	"state" jsonb NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "subscribers_tenant_id_subscriber_id_pk" PRIMARY KEY("tenant_id","subscriber_id")
);
--> statement-breakpoint
CREATE INDEX "billing_services_subscriber" ON "billing"."billing_services" USING btree ("tenant_id","subscriber_id");--> statement-breakpoint
CREATE INDEX "outbox_unpublished" ON "billing"."outbox" USING btree ("id") WHERE "billing"."outbox"."published_at" is null;