import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./services/projection/store/schema.ts",
  out: "./services/projection/migrations",
  schemaFilter: ["projection"],
});
