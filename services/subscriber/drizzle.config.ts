import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./services/subscriber/store/schema.ts",
  out: "./services/subscriber/migrations",
  schemaFilter: ["subscriber"],
});
