/*
 * The library's only host allocator. Going through one place lets a test make
 * the N-th allocation fail and count what is still live, which is how every
 * error path is checked for leaks.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

static atomic_long alloc_countdown; /* 0 = no injected failure */
static atomic_long alloc_live;
static atomic_long cl_countdown;

/* Returns 1 when the armed countdown reaches this call. */
static int countdown_fires(atomic_long *countdown)
{
    long n = atomic_load(countdown);
    while (n > 0) {
        if (atomic_compare_exchange_weak(countdown, &n, n - 1)) return n == 1;
    }
    return 0;
}

void clf__alloc_fail_at(long n) { atomic_store(&alloc_countdown, n > 0 ? n : 0); }
int clf__alloc_fail_pending(void) { return atomic_load(&alloc_countdown) > 0; }
long clf__alloc_live(void) { return atomic_load(&alloc_live); }

void *clf__malloc(size_t size)
{
    if (countdown_fires(&alloc_countdown)) return NULL;
    void *p = malloc(size ? size : 1);
    if (p) atomic_fetch_add(&alloc_live, 1);
    return p;
}

void *clf__calloc(size_t n, size_t size)
{
    if (countdown_fires(&alloc_countdown)) return NULL;
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p) atomic_fetch_add(&alloc_live, 1);
    return p;
}

void *clf__realloc(void *p, size_t size)
{
    if (!p) return clf__malloc(size);
    if (countdown_fires(&alloc_countdown)) return NULL;
    return realloc(p, size ? size : 1);
}

void clf__free(void *p)
{
    if (!p) return;
    atomic_fetch_sub(&alloc_live, 1);
    free(p);
}

char *clf__strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = clf__malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

void clf__cl_fail_at(long n) { atomic_store(&cl_countdown, n > 0 ? n : 0); }
int clf__cl_fault(void) { return countdown_fires(&cl_countdown); }
int clf__cl_fail_pending(void) { return atomic_load(&cl_countdown) > 0; }
