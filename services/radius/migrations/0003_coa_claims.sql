ALTER TABLE "radius"."coa_requests" ADD COLUMN IF NOT EXISTS "claim_token" text;--> statement-breakpoint
ALTER TABLE "radius"."coa_requests" ADD COLUMN IF NOT EXISTS "claimed_until" timestamp with time zone;--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "coa_requests_open" ON "radius"."coa_requests" USING btree ("tenant_id","nas_id","created_at","id") WHERE "radius"."coa_requests"."status" in ('pending', 'sending');--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "coa_requests_sending" ON "radius"."coa_requests" USING btree ("tenant_id","nas_id","claimed_until") WHERE "radius"."coa_requests"."status" = 'sending';--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "radacct_open_by_user" ON "radius"."radacct" USING btree ("username") WHERE "radius"."radacct"."acctstoptime" is null;