ALTER TABLE "ipam"."pools" ADD COLUMN "usage" text DEFAULT 'both' NOT NULL;--> statement-breakpoint
ALTER TABLE "ipam"."pools" ADD CONSTRAINT "pools_usage" CHECK ("ipam"."pools"."usage" in ('dynamic', 'static', 'both'));--> statement-breakpoint
ALTER TABLE "ipam"."pools" ADD CONSTRAINT "pools_static_not_default" CHECK (not ("ipam"."pools"."is_default" and "ipam"."pools"."usage" = 'static'));