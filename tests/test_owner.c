/*
 * Host tests of the one-thread rule's bookkeeping (src/core/owner.c): which
 * objects a thread's refusal names. An owner whose token is 1 reads as held
 * by another thread (a real token is the address of a thread-local byte).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "core/core.h"

static void held_elsewhere(clf__owner *o)
{
    clf__owner_init(o);
    o->off = false; /* whatever CLFORMER_THREAD_CHECK says */
    atomic_store(&o->thread, (uintptr_t)1);
}

/* Refusals on objects that are never entered again (freed, say) must not
 * keep a newer refusal from being named: a thread refused on a model's two
 * contexts, after two other refusals, names both. */
Test(owner, newest_refusals_are_named_after_older_ones_fill_the_list)
{
    clf__owner o[6];
    for (int i = 0; i < 6; i++) held_elsewhere(&o[i]);
    for (int i = 0; i < 6; i++) {
        cr_assert_eq(clf__owner_enter(&o[i], &o[i], "dev", "clf_test"), CLF_ERR_BUSY);
        const char *t = clf__owner_refused(&o[i]);
        cr_assert(t && strstr(t, "used by one thread at a time"), "object %d: %s", i, t ? t : "(none)");
        if (i > 0) cr_assert_not_null(clf__owner_refused(&o[i - 1]), "object %d, refused just before %d", i - 1, i);
        cr_assert(strstr(clf__thread_error(), "used by one thread at a time"));
    }
    /* Marked together (a model's second context) counts as a refusal too. */
    int other;
    clf__owner_mark_refused(&other);
    cr_assert_not_null(clf__owner_refused(&other));
    cr_assert_not_null(clf__owner_refused(&o[5]));
    /* Entering clears the object's refusal, and only its own. */
    atomic_store(&o[5].thread, (uintptr_t)0);
    cr_assert_eq(clf__owner_enter(&o[5], &o[5], "dev", "clf_test"), CLF_OK);
    cr_assert_null(clf__owner_refused(&o[5]));
    cr_assert_not_null(clf__owner_refused(&other));
    clf__owner_leave(&o[5]);
    cr_assert_eq(atomic_load(&o[5].thread), 0);
}
