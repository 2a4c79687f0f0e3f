CREATE TABLE IF NOT EXISTS "billing"."subscriber_state" (
	"tenant_id" text NOT NULL,
	"subscriber_id" text NOT NULL,
	"view" jsonb,
	"state" jsonb,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "subscriber_state_tenant_id_subscriber_id_pk" PRIMARY KEY("tenant_id","subscriber_id")
);
--> statement-breakpoint
-- Carry over what billing knew of each subscriber (the view and its own state) into the runtime's table.
INSERT INTO "billing"."subscriber_state" ("tenant_id", "subscriber_id", "view", "state")
SELECT "tenant_id", "subscriber_id", "view", "state" FROM "billing"."subscribers"
ON CONFLICT DO NOTHING;
