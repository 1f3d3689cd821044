/*
 * The one-thread rule of contexts, checked: an owner token and a nesting
 * depth per object. The token of a thread is the address of a thread-local
 * variable: unique among the threads alive, free to get, and 0 is never
 * one. A refusal is reported to the refused thread only, through
 * thread-local memory, because the object's own error text belongs to the
 * thread inside it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

static _Thread_local char thread_token;

/* This thread's refusals: the objects whose last call was refused, the
 * most recent last (a model's two contexts at most), and the message. An
 * entry of an object freed since is never entered again to clear it, so a
 * full list drops its oldest entry, never the newest. */
#define REFUSED_MAX 2
static _Thread_local const void *refused[REFUSED_MAX];
static _Thread_local int n_refused;
static _Thread_local char refused_text[512];

static _Atomic(clf__owner_hook_fn) test_hook;
static void *test_hook_arg;

void clf__owner_init(clf__owner *o)
{
    atomic_init(&o->thread, 0);
    o->depth = 0;
    const char *env = getenv("CLFORMER_THREAD_CHECK");
    o->off = env && strcmp(env, "0") == 0;
}

void clf__owner_mark_refused(const void *obj)
{
    for (int i = 0; i < n_refused; i++)
        if (refused[i] == obj) return;
    if (n_refused == REFUSED_MAX) {
        memmove(refused, refused + 1, (REFUSED_MAX - 1) * sizeof *refused);
        n_refused--;
    }
    refused[n_refused++] = obj;
}

static void forget_refusal(const void *obj)
{
    for (int i = 0; i < n_refused; i++)
        if (refused[i] == obj) {
            refused[i] = refused[--n_refused];
            return;
        }
}

const char *clf__owner_refused(const void *obj)
{
    for (int i = 0; i < n_refused; i++)
        if (refused[i] == obj) return refused_text;
    return NULL;
}

static clf_status refuse(const void *obj, const char *label, const char *what)
{
    snprintf(refused_text, sizeof refused_text,
             "%s: refused: the context on \"%s\" is in use by another thread. Thread rule "
             "(clformer/context.h): a context, with the tensors, graphs and models on it, is "
             "used by one thread at a time",
             what, label ? label : "?");
    clf__owner_mark_refused(obj);
    /* clf_context_last_error(NULL) of this thread says it too. */
    clf__error(NULL, CLF_ERR_BUSY, "%s", refused_text);
    return CLF_ERR_BUSY;
}

clf_status clf__owner_enter(clf__owner *o, const void *obj, const char *label, const char *what)
{
    if (o->off) return CLF_OK;
    uintptr_t me = (uintptr_t)&thread_token;
    uintptr_t cur = atomic_load_explicit(&o->thread, memory_order_relaxed);
    if (cur == me) { /* only this thread stores its own token: a nested call */
        o->depth++;
        return CLF_OK;
    }
    if (cur != 0 || !atomic_compare_exchange_strong_explicit(&o->thread, &cur, me,
                                                             memory_order_acquire,
                                                             memory_order_relaxed))
        return refuse(obj, label, what);
    o->depth = 1;
    if (n_refused) forget_refusal(obj);
    clf__owner_hook_fn hook = atomic_load_explicit(&test_hook, memory_order_acquire);
    if (hook) hook(obj, test_hook_arg);
    return CLF_OK;
}

void clf__owner_leave(clf__owner *o)
{
    if (o->off) return;
    if (--o->depth == 0) atomic_store_explicit(&o->thread, 0, memory_order_release);
}

void clf__owner_test_hook(clf__owner_hook_fn fn, void *arg)
{
    test_hook_arg = arg;
    atomic_store_explicit(&test_hook, fn, memory_order_release);
}
