// timestamp-millis stays a plain number (ms since the epoch) in our TypeScript types; this
// identity logical type only keeps the `logicalType` annotation when schemas are exported,
// so the registry and Kafka UI show occurred_at as a timestamp.
import avro from "avsc";

class TimestampMillis extends avro.types.LogicalType {
  override _fromValue(value: unknown): unknown {
    return value;
  }
  override _toValue(value: unknown): unknown {
    return value;
  }
  override _resolve(type: avro.Type): ((value: unknown) => unknown) | undefined {
    return avro.Type.isType(type, "long", "logical:timestamp-millis") ? (v) => v : undefined;
  }
}

export const logicalTypes = { "timestamp-millis": TimestampMillis } as const;
