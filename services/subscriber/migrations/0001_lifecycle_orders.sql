CREATE TABLE "subscriber"."lifecycle_orders" (
	"tenant_id" text NOT NULL,
	"order_id" text NOT NULL,
	"subscriber_id" uuid NOT NULL,
	"order_type" text NOT NULL,
	"accepted_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "lifecycle_orders_tenant_id_order_id_pk" PRIMARY KEY("tenant_id","order_id")
);
--> statement-breakpoint
ALTER TABLE "subscriber"."subscribers" ADD COLUMN "pending_order" jsonb;