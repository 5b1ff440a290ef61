/* debugid: the source-map debug ids of loaded JS bundles (script path -> debug id), as
 * Sentry's bundler plugins write them (`//# debugId=<uuid>`, globalThis._sentryDebugIds),
 * and the `debug_meta.images` a profile carries: type "sourcemap" for the scripts its
 * frames name, as @sentry/core's getDebugImagesForResources builds them, and the native
 * images (ELF files, by build id) of its native frames so Sentry can symbolicate them.
 * JS threads add (sp_debugid_set, through the N-API bridge); the agent thread reads. */
#ifndef SP_DEBUGID_H
#define SP_DEBUGID_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "symbolize.h"

#define SP_DEBUGID_MAX 1024 /* bundles remembered; more are ignored (counted in the return) */

/* Remembers path -> debug_id (a UUID, with or without dashes; kept as given, lowercased).
 * 0 when stored or already known, -EINVAL for a bad id or path, -ENOSPC when full. */
int sp_debugid_set(const char *path, const char *debug_id);

/* Agent thread. First looks at the app's scripts the frames name that it has not seen yet
 * (a trailing `//# debugId=` comment; read once per file). The images for the scripts named
 * by frames_text (a profile's frames, compact JSON text as sp_session_frames_text gives it):
 * [{"type":"sourcemap","code_file":path,"debug_id":id}, ...], then one for each ELF file of
 * sym (NULL: none) with a build id that the frames name: {"type":"symbolic","code_file",
 * "debug_id","code_id","image_addr":"0x...","image_size"} (new reference; an empty array
 * when none; NULL on ENOMEM). */
json_t *sp_debugid_images(const char *frames_text, size_t len, const sp_symbolizer_t *sym);
/* The debug id Sentry gives an ELF file of GNU build id id (n bytes): its first 16 bytes
 * (zero-padded) as a little-endian GUID, "c0bcc3f1-9827-fe65-3058-404b2831d9e6" for
 * f1c3bcc0279865fe3058404b2831d9e64135386c. */
void sp_debugid_of_build_id(const uint8_t *id, size_t n, char out[37]);

/* Forgets every id and every script looked at (tests). */
void sp_debugid_reset(void);

#endif
