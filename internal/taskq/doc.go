// Package taskq carries stage tasks from coordinators to workers over
// Redis Streams, at least once.
//
// Each stage has a stream; workers read it through one consumer group
// (XREADGROUP), so a task goes to one worker at a time. A worker
// acknowledges (XACK) only after the task's report is stored; a task
// whose worker died stays pending and, once idle past ClaimIdle, is
// claimed by another worker (XAUTOCLAIM). A task delivered more than
// MaxDeliveries times (it keeps killing its workers, or it cannot be
// decoded) is moved to the dead-letter stream and Alert is called, so it
// stops cycling and a person hears of it.
//
// At least once means twice sometimes: whoever handles a task must make
// the second delivery a no-op (the stage report is keyed by run, stage
// and attempt; the deployment agent resumes its stored steps rather than
// repeating them).
//
// Task life:
//
//	Publish ─► stream ─► delivered (pending, worker A) ─► Ack ─► done
//	                        │  A dies; idle > ClaimIdle
//	                        ▼
//	                  claimed by worker B (deliveries+1) ─► Ack ─► done
//	                        │  deliveries > MaxDeliveries
//	                        ▼
//	                  dead-letter stream + Alert (acked on the stage stream)
package taskq
