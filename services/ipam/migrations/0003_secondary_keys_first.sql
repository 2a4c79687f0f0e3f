ALTER TABLE "ipam"."allocations" DROP CONSTRAINT "allocations_unique_address";--> statement-breakpoint
DROP INDEX "ipam"."allocations_pool";--> statement-breakpoint
CREATE INDEX "allocations_pool" ON "ipam"."allocations" USING btree ("pool_id","tenant_id");--> statement-breakpoint
ALTER TABLE "ipam"."allocations" ADD CONSTRAINT "allocations_unique_address" UNIQUE("family","address","tenant_id");