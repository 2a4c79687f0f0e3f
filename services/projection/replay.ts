// Rebuild from offset 0: with the projection stopped, move its consumer group to the start of the
// lifecycle topic and empty its documents and inbox. The next start folds the whole history again
// and, the fold being deterministic, rebuilds equal documents (and republishes their snapshots).
import { eq } from "drizzle-orm";
import type { Kafka } from "kafkajs";
import type { Db } from "../../shared/db.js";
import { topics } from "../../shared/topics.js";
import { inbox, serviceEntities } from "./store/schema.js";

export async function resetForReplay(kafka: Kafka, db: Db, groupId = "projection"): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups([groupId]);
    if ((groups[0]?.members.length ?? 0) > 0) throw new Error(`consumer group ${groupId} has running members: stop the projection first`);
    // Offsets first: if the database step then fails, the replay finds every event in the inbox and changes nothing.
    await admin.resetOffsets({ groupId, topic: topics.lifecycle, earliest: true });
  } finally {
    await admin.disconnect();
  }
  await db.transaction(async (tx) => {
    await tx.delete(serviceEntities);
    await tx.delete(inbox).where(eq(inbox.consumer, "projection"));
  });
}
