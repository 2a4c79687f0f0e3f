CREATE TABLE "radius"."first_passwords" (
	"tenant_id" text NOT NULL,
	"subscriber_id" text NOT NULL,
	"username" text NOT NULL,
	"password" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"gone_at" timestamp with time zone,
	"gone_reason" text,
	"retrieved_by" text,
	CONSTRAINT "first_passwords_tenant_id_subscriber_id_pk" PRIMARY KEY("tenant_id","subscriber_id")
);
--> statement-breakpoint
CREATE INDEX "first_passwords_held" ON "radius"."first_passwords" USING btree ("created_at") WHERE "radius"."first_passwords"."password" is not null;