DROP INDEX "subscriber"."subscribers_tenant_order";--> statement-breakpoint
DROP INDEX "subscriber"."subscribers_tenant_number";--> statement-breakpoint
CREATE UNIQUE INDEX "subscribers_tenant_order" ON "subscriber"."subscribers" USING btree ("order_id","tenant_id");--> statement-breakpoint
CREATE UNIQUE INDEX "subscribers_tenant_number" ON "subscriber"."subscribers" USING btree ("subscriber_number","tenant_id");