/* Fuzz target: the DSN parser (src/dsn.c). Any string gives 0 or -EINVAL/-ENOMEM with a
 * reason; a DSN it accepts has NUL-terminated fields, an http(s) scheme, a project id,
 * and its envelope URL and auth header fit their buffers or say -ENAMETOOLONG. */
#include <errno.h>

#include "dsn.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s) abort();
    memcpy(s, data, size);
    s[size] = '\0'; /* an embedded NUL ends the string, as in the environment */
    sp_dsn_t d;
    char err[128] = "";
    int rc = sp_dsn_parse(s, &d, err, sizeof err);
    SP_FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOMEM, "sp_dsn_parse returned %d", rc);
    SP_FUZZ_CHECK(memchr(err, 0, sizeof err) != NULL, "the reason is not NUL-terminated");
    if (rc == 0) {
        SP_FUZZ_CHECK(!strcmp(d.scheme, "http") || !strcmp(d.scheme, "https"), "scheme '%s'",
                      d.scheme);
        SP_FUZZ_CHECK(memchr(d.public_key, 0, sizeof d.public_key) &&
                          memchr(d.host, 0, sizeof d.host) &&
                          memchr(d.prefix, 0, sizeof d.prefix) &&
                          memchr(d.project_id, 0, sizeof d.project_id),
                      "a field is not NUL-terminated");
        SP_FUZZ_CHECK(d.project_id[0] && d.host[0], "accepted without host or project: '%s'", s);
        char url[SP_DSN_URL_MAX], auth[SP_DSN_AUTH_MAX], tiny[8];
        int u = sp_dsn_envelope_url(&d, url, sizeof url);
        SP_FUZZ_CHECK(u == 0 || u == -ENAMETOOLONG, "sp_dsn_envelope_url returned %d", u);
        int a = sp_dsn_auth_header(&d, auth, sizeof auth);
        SP_FUZZ_CHECK(a == 0 || a == -ENAMETOOLONG, "sp_dsn_auth_header returned %d", a);
        if (u == 0) SP_FUZZ_CHECK(strncmp(url, d.scheme, strlen(d.scheme)) == 0, "url '%s'", url);
        (void)sp_dsn_envelope_url(&d, tiny, sizeof tiny);
        (void)sp_dsn_auth_header(&d, tiny, sizeof tiny);
    } else {
        SP_FUZZ_CHECK(err[0] != '\0', "-EINVAL without a reason for '%s'", s);
    }
    free(s);
    return 0;
}
