CREATE TABLE IF NOT EXISTS "ipam"."subscriber_state" (
	"tenant_id" text NOT NULL,
	"subscriber_id" text NOT NULL,
	"view" jsonb,
	"state" jsonb,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "subscriber_state_tenant_id_subscriber_id_pk" PRIMARY KEY("tenant_id","subscriber_id")
);
--> statement-breakpoint
-- Carry over what ipam knew of each subscriber: the view and its own progress, now in two columns.
INSERT INTO "ipam"."subscriber_state" ("tenant_id", "subscriber_id", "view", "state")
SELECT "tenant_id", "subscriber_id", "state"->'view', "state" - 'view' FROM "ipam"."subscribers"
ON CONFLICT DO NOTHING;
