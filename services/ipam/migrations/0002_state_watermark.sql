ALTER TABLE "ipam"."subscriber_state" ADD COLUMN "at_partition" integer;--> statement-breakpoint
ALTER TABLE "ipam"."subscriber_state" ADD COLUMN "at_offset" bigint;