/*
 * Where clformer keeps its files on disk. Here in the core because two
 * layers need the answer: the runtime (the binary cache) and the device layer
 * (PoCL's cache, pointed inside ours before the first OpenCL call).
 */
#include <stdio.h>
#include <stdlib.h>

#include "core/core.h"

clf_status clf__default_cache_dir(char *buf, size_t size)
{
    const char *env = getenv("CLFORMER_CACHE_DIR");
    int w;
    if (env) {
        if (!*env) return CLF_ERR_NOT_FOUND;
        w = snprintf(buf, size, "%s", env);
    } else if ((env = getenv("XDG_CACHE_HOME")) && *env) {
        w = snprintf(buf, size, "%s/clformer", env);
    } else if ((env = getenv("HOME")) && *env) {
        w = snprintf(buf, size, "%s/.cache/clformer", env);
    } else {
        return CLF_ERR_NOT_FOUND;
    }
    return (w > 0 && (size_t)w < size) ? CLF_OK : CLF_ERR_NOT_FOUND;
}
