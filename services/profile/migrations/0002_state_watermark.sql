ALTER TABLE "profile"."subscriber_state" ADD COLUMN "at_partition" integer;--> statement-breakpoint
ALTER TABLE "profile"."subscriber_state" ADD COLUMN "at_offset" bigint;