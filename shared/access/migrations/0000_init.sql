CREATE SCHEMA IF NOT EXISTS "access";
--> statement-breakpoint
CREATE TABLE "access"."tokens" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text,
	"all_tenants" boolean DEFAULT false NOT NULL,
	"name" text NOT NULL,
	"token_hash" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "tokens_token_hash_unique" UNIQUE("token_hash"),
	CONSTRAINT "tokens_scope" CHECK (("access"."tokens"."all_tenants" and "access"."tokens"."tenant_id" is null) or (not "access"."tokens"."all_tenants" and "access"."tokens"."tenant_id" is not null))
);
--> statement-breakpoint
CREATE INDEX "tokens_tenant" ON "access"."tokens" USING btree ("tenant_id");