/* outbox: the agent's writes into the spool: chunks into our run folder, transaction
 * envelopes appended to a batch file, both published into ready/ for the uploader; the
 * spool cap is kept as we write. Agent thread only. */
#ifndef SP_OUTBOX_H
#define SP_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"

/* Before any other call: the configuration (kept, not copied) and our pid (file names). */
void sp_outbox_init(const sp_config_t *cfg, pid_t pid);

/* Writes (or rewrites) name in our run folder. 0 or a negative errno (counted, one warning). */
int sp_outbox_write(const char *name, const char *buf, size_t len);
/* Publishes name from our run folder into ready/ and wakes the uploader. */
int sp_outbox_publish(const char *name);
/* Removes name from our run folder (a chunk nobody asked for). */
void sp_outbox_remove(const char *name);

/* Appends one transaction envelope to the open batch (opening one when needed): a write()
 * into the page cache, safe from a killed process; the seal makes it durable. */
int sp_outbox_append(const char *buf, size_t len);
/* Publishes the open batch, if any. */
void sp_outbox_seal(void);
bool sp_outbox_batch_open(void);

/* Once a pass: seals a batch open for long enough. */
void sp_outbox_tick(uint64_t now);
/* Deletes the oldest published files when the spool is over its cap (checked at most once
 * a second, or after 1/16 of the cap was written). now: monotonic ns. */
void sp_outbox_enforce_cap(uint64_t now);

/* Exit: seals the batch and publishes whatever our run folder still holds. */
void sp_outbox_end(void);
/* In a fork child: forgets the parent's run folder and batch without touching them. */
void sp_outbox_atfork_child(void);

#endif
