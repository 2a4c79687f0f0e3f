ALTER TABLE "projection"."service_entities" ADD COLUMN "radius_coa" jsonb;--> statement-breakpoint
ALTER TABLE "projection"."service_entities" ADD COLUMN "service_plan_id" text;