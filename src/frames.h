/* frames: the frame table. A frame is what a profile shows for one entry of a stack
 * (function, file, line and column, module, instruction address, kind); the table gives
 * each distinct frame a small id and keeps the JSON text it is written as, built and
 * dumped once. Sessions take frame ids and copy that text (sp_session_frame), so the
 * symbolizer that produces frames knows nothing of JSON or of sessions.
 * Background (agent) thread only. */
#ifndef SP_FRAMES_H
#define SP_FRAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    SP_FRAME_JS = 0,     /* JS code: platform "node", module derived from the script path */
    SP_FRAME_NATIVE = 1, /* machine code of an ELF file, V8's builtins, or unknown code */
} sp_frame_kind_t;

/* One frame. The strings are borrowed: sp_frames_intern copies what it keeps. */
typedef struct {
    const char *function;      /* never NULL ("" for an anonymous JS function) */
    const char *abs_path;      /* script path, or the ELF file of a native frame; may be NULL */
    const char *module;        /* may be NULL: derived from abs_path for JS frames */
    int lineno, colno;         /* 0: unknown */
    uint64_t instruction_addr; /* native frames; 0: none */
    sp_frame_kind_t kind;
    bool in_app;
} sp_frame_t;

typedef struct sp_frames sp_frames_t;

sp_frames_t *sp_frames_new(void);
void sp_frames_free(sp_frames_t *ft);

/* The id of f (added when new: ids are dense, 0, 1, 2, ...), or -1 when out of memory.
 * Two frames get one id exactly when their JSON text is the same. */
long sp_frames_intern(sp_frames_t *ft, const sp_frame_t *f);
/* The JSON object text of frame id ("{...}", compact), owned by the table; NULL for an id
 * the table does not hold. */
const char *sp_frames_json(const sp_frames_t *ft, uint32_t id, size_t *len);
size_t sp_frames_count(const sp_frames_t *ft);

/* Ids are valid within one epoch. A new epoch (the table was emptied) begins when the
 * module base changes or sp_frames_trim found the table full; whoever keeps ids (the
 * resolver's cache, a session's id map) drops them when the epoch moved. */
uint32_t sp_frames_epoch(const sp_frames_t *ft);
/* Empties the table (new epoch) when it holds SP_FRAMES_MAX frames or more. Call only
 * where no id is held (between two stacks). Returns true when it did. */
bool sp_frames_trim(sp_frames_t *ft);

/* The app's directory (dirname of node's main script): JS modules are named relative to it,
 * as @sentry/node names them ("" or NULL: none known). Starts a new epoch: frames built
 * before carry the old module names. */
void sp_frames_set_module_base(sp_frames_t *ft, const char *dir);

#endif
