/* sentryprof: the public interface of libsentryprof.so.
 *
 * The library is used through LD_PRELOAD, not linked against: these are the symbols
 * preload/exports.map exports, declared once so the definitions in preload/ (preload.c, napi.c) are
 * checked against them (-Wmissing-prototypes). Everything else in the library is local.
 * fopen and fopen64 are exported too (interposed to redirect two files V8 opens); their
 * prototypes are <stdio.h>'s. */
#ifndef SENTRYPROF_H
#define SENTRYPROF_H

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version string, e.g. "0.1.0" (also `sentryprof --version`). */
const char *sentryprof_version(void);

/* N-API's module entry point: the JS helper loads the library as a native addon
 * (process.dlopen) and gets the bridge functions (stats, startTransaction, ...).
 * The opaque handle types are node_api_types.h's, spelled out so no Node header is needed. */
typedef struct napi_env__ *napi_env;
typedef struct napi_value__ *napi_value;
napi_value napi_register_module_v1(napi_env env, napi_value exports);

#ifdef __cplusplus
}
#endif

#endif
