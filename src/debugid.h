/* debugid: the source-map debug ids of loaded JS bundles (script path -> debug id), as
 * Sentry's bundler plugins write them (`//# debugId=<uuid>`, globalThis._sentryDebugIds),
 * and the `debug_meta.images` of type "sourcemap" a profile carries for the scripts its
 * frames name, as @sentry/core's getDebugImagesForResources builds them. JS threads add
 * (sp_debugid_set, through the N-API bridge); the agent thread reads. */
#ifndef SP_DEBUGID_H
#define SP_DEBUGID_H

#include <jansson.h>
#include <stddef.h>

#define SP_DEBUGID_MAX 1024 /* bundles remembered; more are ignored (counted in the return) */

/* Remembers path -> debug_id (a UUID, with or without dashes; kept as given, lowercased).
 * 0 when stored or already known, -EINVAL for a bad id or path, -ENOSPC when full. */
int sp_debugid_set(const char *path, const char *debug_id);

/* Agent thread. First looks at the app's scripts the frames name that it has not seen yet
 * (a trailing `//# debugId=` comment; read once per file). The images for the scripts named by frames_text (a profile's frames, compact JSON text
 * as sp_session_frames_text gives it): [{"type":"sourcemap","code_file":path,
 * "debug_id":id}, ...] (new reference; an empty array when none; NULL on ENOMEM). */
json_t *sp_debugid_images(const char *frames_text, size_t len);

/* Forgets every id and every script looked at (tests). */
void sp_debugid_reset(void);

#endif
