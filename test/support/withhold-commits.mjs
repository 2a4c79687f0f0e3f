// Fault injection for a service process, loaded with NODE_OPTIONS=--import=<this file> (the
// scale-out test's instance A). Its consumers' offset commits never reach the broker, while
// kafkajs believes they did: as if the process died, every time, between a unit of work's
// PostgreSQL commit and its offset commit. When the process does die, its group hands
// everything it applied to the next owner again: a redelivery as large as a crash can cause.
// Nothing else changes: it consumes, applies and publishes as usual.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const Broker = require("kafkajs/src/broker/index.js");

Broker.prototype.offsetCommit = async function withheldOffsetCommit() {
  return { throttleTime: 0, responses: [] };
};
