CREATE TABLE "subscriber"."scheduled_plan_changes" (
	"tenant_id" text NOT NULL,
	"order_id" text NOT NULL,
	"subscriber_id" uuid NOT NULL,
	"effective_date" text NOT NULL,
	"service_plan_id" text NOT NULL,
	"bandwidth_mbps" integer NOT NULL,
	"cause_event_id" text NOT NULL,
	"correlation_id" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "scheduled_plan_changes_tenant_id_order_id_pk" PRIMARY KEY("tenant_id","order_id")
);
--> statement-breakpoint
CREATE INDEX "scheduled_plan_changes_due" ON "subscriber"."scheduled_plan_changes" USING btree ("effective_date","created_at");