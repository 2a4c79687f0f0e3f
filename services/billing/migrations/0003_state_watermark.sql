ALTER TABLE "billing"."subscriber_state" ADD COLUMN "at_partition" integer;--> statement-breakpoint
ALTER TABLE "billing"."subscriber_state" ADD COLUMN "at_offset" bigint;