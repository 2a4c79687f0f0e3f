DROP INDEX "olt"."onus_number_on_port";--> statement-breakpoint
DROP INDEX "olt"."service_flows_subscriber";--> statement-breakpoint
CREATE UNIQUE INDEX "onus_number_on_port" ON "olt"."onus" USING btree ("olt_id","pon_port","onu_number","tenant_id");--> statement-breakpoint
CREATE INDEX "service_flows_subscriber" ON "olt"."service_flows" USING btree ("subscriber_id","tenant_id");