CREATE TABLE "billing"."plan_periods" (
	"tenant_id" text NOT NULL,
	"service_id" text NOT NULL,
	"starts_on" date NOT NULL,
	"ends_on" date,
	"plan_id" text NOT NULL,
	"monthly_price_cents" integer NOT NULL,
	"currency" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "plan_periods_tenant_id_service_id_starts_on_pk" PRIMARY KEY("tenant_id","service_id","starts_on")
);
