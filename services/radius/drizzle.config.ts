import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./services/radius/store/schema.ts",
  out: "./services/radius/migrations",
  schemaFilter: ["radius"],
});
