// Lint: typescript-eslint's recommended rules plus the project's architectural lines:
// no service imports another service (only shared/ and schemas/ are common), and the pure
// decision code imports no infrastructure.
import { readdirSync, statSync } from "node:fs";
import tseslint from "typescript-eslint";

const services = (() => {
  try {
    return readdirSync("services").filter((d) => statSync(`services/${d}`).isDirectory());
  } catch {
    return [];
  }
})();

const infrastructure = ["kafkajs", "@kafkajs/*", "drizzle-orm", "drizzle-orm/*", "postgres", "pino", "node:*", "radius", "avsc"];

export default tseslint.config(
  { ignores: ["node_modules/", ".stack/", "dist/", "schemas/generated/", "**/migrations/", "scratch/"] },
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
    },
  },
  ...services.flatMap((service) => {
    const crossService = services
      .filter((other) => other !== service)
      .map((other) => ({
        group: [`**/services/${other}/**`, `../${other}/**`, `../../${other}/**`],
        message: `services/${service} must not import services/${other}: react to its events instead.`,
      }));
    const pure = { group: infrastructure, message: "Decisions are pure: ids, clocks and lookups come in as arguments." };
    return [
      { files: [`services/${service}/**/*.ts`], rules: { "no-restricted-imports": ["error", { patterns: crossService }] } },
      {
        files: [`services/${service}/decide*.ts`, `services/${service}/fold*.ts`, `services/${service}/domain/**/*.ts`],
        rules: { "no-restricted-imports": ["error", { patterns: [...crossService, pure] }] },
      },
    ];
  }),
);
