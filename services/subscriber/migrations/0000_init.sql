CREATE SCHEMA IF NOT EXISTS "subscriber";
--> statement-breakpoint
CREATE TABLE "subscriber"."inbox" (
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
CREATE TABLE "subscriber"."outbox" (
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
CREATE TABLE "subscriber"."plans" (
	"tenant_id" text NOT NULL,
	"plan_id" text NOT NULL,
	"name" text NOT NULL,
	"bandwidth_mbps" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "plans_tenant_id_plan_id_pk" PRIMARY KEY("tenant_id","plan_id")
);
--> statement-breakpoint
CREATE TABLE "subscriber"."subscriber_numbers" (
	"tenant_id" text PRIMARY KEY NOT NULL,
	"last_value" integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE "subscriber"."subscribers" (
	"tenant_id" text NOT NULL,
	"subscriber_id" uuid NOT NULL,
	"subscriber_number" text NOT NULL,
	"order_id" text NOT NULL,
	"crm_reference" text NOT NULL,
	"correlation_id" text NOT NULL,
	"status" text NOT NULL,
	"view" jsonb NOT NULL,
	"skipped_steps" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"last_event_id" text NOT NULL,
	"last_progress_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "subscribers_tenant_id_subscriber_id_pk" PRIMARY KEY("tenant_id","subscriber_id")
);
--> statement-breakpoint
CREATE INDEX "outbox_unpublished" ON "subscriber"."outbox" USING btree ("id") WHERE "subscriber"."outbox"."published_at" is null;--> statement-breakpoint
CREATE UNIQUE INDEX "subscribers_tenant_order" ON "subscriber"."subscribers" USING btree ("tenant_id","order_id");--> statement-breakpoint
CREATE UNIQUE INDEX "subscribers_tenant_number" ON "subscriber"."subscribers" USING btree ("tenant_id","subscriber_number");--> statement-breakpoint
CREATE INDEX "subscribers_provisioning_since" ON "subscriber"."subscribers" USING btree ("last_progress_at") WHERE "subscriber"."subscribers"."status" = 'provisioning';