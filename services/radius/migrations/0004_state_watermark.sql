ALTER TABLE "radius"."subscriber_state" ADD COLUMN "at_partition" integer;--> statement-breakpoint
ALTER TABLE "radius"."subscriber_state" ADD COLUMN "at_offset" bigint;