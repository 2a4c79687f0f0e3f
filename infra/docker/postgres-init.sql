-- First start of the postgres container (docker-compose.yml), run in the database "fiber":
-- the tests' database and the schema registry's own schema (as infra/postgres.sh does locally).
CREATE DATABASE fiber_test;
CREATE SCHEMA IF NOT EXISTS apicurio;
