CREATE TABLE "radius"."coa_requests" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"subscriber_id" text NOT NULL,
	"username" text NOT NULL,
	"kind" text NOT NULL,
	"nas_id" text,
	"attributes" jsonb NOT NULL,
	"cause_event_id" text NOT NULL,
	"correlation_id" text,
	"status" text DEFAULT 'pending' NOT NULL,
	"error_cause" integer,
	"attempts" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"completed_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "radius"."nas_devices" (
	"tenant_id" text NOT NULL,
	"nas_id" text NOT NULL,
	"address" text NOT NULL,
	"coa_port" integer DEFAULT 3799 NOT NULL,
	"secret" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "nas_devices_tenant_id_nas_id_pk" PRIMARY KEY("tenant_id","nas_id")
);
--> statement-breakpoint
CREATE TABLE "radius"."suspension_policies" (
	"tenant_id" text PRIMARY KEY NOT NULL,
	"mode" text DEFAULT 'reject' NOT NULL,
	"walled_garden_group" text,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "radius"."accounts" ADD COLUMN "suspend_mode" text;--> statement-breakpoint
CREATE UNIQUE INDEX "coa_requests_cause_kind" ON "radius"."coa_requests" USING btree ("cause_event_id","kind");--> statement-breakpoint
CREATE INDEX "coa_requests_pending" ON "radius"."coa_requests" USING btree ("status");--> statement-breakpoint
CREATE UNIQUE INDEX "nas_devices_tenant_address" ON "radius"."nas_devices" USING btree ("tenant_id","address");