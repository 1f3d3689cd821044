/*
 * Host tests of the graph planner and builder (no device): offset assignment
 * on synthetic interval sets (arena >= lower bound, no two live blocks
 * overlap — every pair checked —, alignment, best fit beats no reuse),
 * in-place choices and liveness through views on graphs built without a
 * context, symbolic dimensions, and the builder's shape errors.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "common/testutil.h"
#include "graph/graph_internal.h"

/* Every pair of blocks whose intervals overlap must not share a byte, and
 * every offset is aligned; returns the number of violations. */
static int check_plan(const clf__gblock *b, int n, size_t align, size_t arena)
{
    int bad = 0;
    for (int i = 0; i < n; i++) {
        if (b[i].offset % align) bad++;
        if (b[i].offset + b[i].size > arena) bad++;
        for (int j = i + 1; j < n; j++) {
            bool t = b[i].first <= b[j].last && b[j].first <= b[i].last;
            bool m = b[i].offset < b[j].offset + b[j].size && b[j].offset < b[i].offset + b[i].size;
            if (t && m) bad++;
        }
    }
    return bad;
}

Test(graph_plan, random_interval_sets_never_overlap_and_respect_the_lower_bound)
{
    uint64_t seed = clft_seed();
    clft_rng r = clft_rng_make(seed, 1);
    const size_t align = 256;
    double worst = 1.0;
    for (int trial = 0; trial < 300; trial++) {
        int n = 1 + (int)(clft_next(&r) % 80), steps = 1 + (int)(clft_next(&r) % 100);
        clf__gblock b[80];
        size_t sum = 0;
        for (int i = 0; i < n; i++) {
            int first = (int)(clft_next(&r) % (uint64_t)steps);
            int len = (int)(clft_next(&r) % 12);
            size_t size = clf__galign(1 + clft_next(&r) % 100000, align);
            b[i] = (clf__gblock){size, first, first + len, 0};
            sum += size;
        }
        size_t arena = clf__plan_offsets(b, n, align);
        size_t lb = clf__plan_lower_bound(b, n);
        cr_assert_eq(check_plan(b, n, align, arena), 0,
                     "seed %llu trial %d: %d blocks overlap, are misaligned or leave the arena",
                     (unsigned long long)seed, trial, check_plan(b, n, align, arena));
        cr_assert(arena >= lb, "seed %llu trial %d: arena %zu < lower bound %zu",
                  (unsigned long long)seed, trial, arena, lb);
        cr_assert(arena <= sum, "seed %llu trial %d: arena %zu > no-reuse %zu",
                  (unsigned long long)seed, trial, arena, sum);
        if ((double)arena / (double)lb > worst) worst = (double)arena / (double)lb;
    }
    printf("graph_plan: 300 random interval sets, worst arena / lower bound %.3f\n", worst);
}

Test(graph_plan, a_chain_reuses_two_blocks)
{
    /* x0 -> x1 -> ... -> x19, each dead after the next is made: two blocks
     * suffice, no reuse would need twenty. */
    clf__gblock b[20];
    for (int i = 0; i < 20; i++) b[i] = (clf__gblock){4096, i, i + 1, 0};
    size_t arena = clf__plan_offsets(b, 20, 256);
    cr_assert_eq(check_plan(b, 20, 256, arena), 0);
    cr_assert_eq(clf__plan_lower_bound(b, 20), 8192);
    cr_assert_eq(arena, 8192, "chain arena %zu (no reuse 81920, lower bound 8192)", arena);
}

Test(graph_plan, holes_of_dead_blocks_are_reused)
{
    /* A 4096-byte block that dies at once and a 2048-byte one that dies at
     * step 2 leave room that later blocks take: the arena is the lower
     * bound (5376), not the sum (11520). */
    clf__gblock b[] = {
        {4096, 0, 0, 0},  /* makes the layout: dies at once */
        {1024, 1, 9, 0},  /* kept */
        {1024, 1, 9, 0},
        {2048, 1, 2, 0},  /* a hole of 2048 once it dies */
        {256, 1, 9, 0},
        {1024, 3, 9, 0},
        {2048, 3, 9, 0},
    };
    int n = (int)(sizeof b / sizeof b[0]);
    size_t arena = clf__plan_offsets(b, n, 256);
    cr_assert_eq(check_plan(b, n, 256, arena), 0);
    size_t lb = clf__plan_lower_bound(b, n);
    cr_assert_eq(arena, lb, "arena %zu, lower bound %zu", arena, lb);
    cr_assert(arena < 4096 + 1024 * 3 + 2048 * 2 + 256, "best fit must beat no reuse");
}

Test(graph_plan, alignment_of_odd_sizes)
{
    clf__gblock b[3] = {{clf__galign(100, 4096), 0, 5, 0},
                        {clf__galign(5000, 4096), 0, 5, 0},
                        {clf__galign(1, 4096), 2, 3, 0}};
    size_t arena = clf__plan_offsets(b, 3, 4096);
    cr_assert_eq(check_plan(b, 3, 4096, arena), 0);
    cr_assert_eq(arena, 4096 * 4);
}

Test(graph_plan, symbolic_dims_evaluate_and_print)
{
    int64_t vals[3] = {3, 5, 7};
    clf_dim bs = clf_dim_mul(clf_dim_sym(1, CLF_SYM_B), clf_dim_sym(4, CLF_SYM_S));
    cr_assert_eq(clf_dim_eval(bs, vals), 60);
    cr_assert_eq(clf_dim_eval(clf_dim_const(768), vals), 768);
    clf_dim t2 = clf_dim_mul(clf_dim_sym(2, CLF_SYM_T), clf_dim_sym(1, CLF_SYM_T));
    cr_assert_eq(clf_dim_eval(t2, vals), 98);
    char buf[64];
    cr_assert_str_eq(clf_dim_str(bs, buf, sizeof buf), "4*B*S");
    cr_assert_str_eq(clf_dim_str(clf_dim_sym(1, CLF_SYM_T), buf, sizeof buf), "T");
    cr_assert_str_eq(clf_dim_str(clf_dim_const(1), buf, sizeof buf), "1");
}

/* (B, S, 64) f32 input on a host-only graph. */
static clf_graph *host_graph(int32_t *x, int64_t d)
{
    clf_graph *g = NULL;
    clf_graph_params p = {{4, 16, 8}};
    cr_assert_eq(clf__graph_create_host(&p, &g), CLF_OK);
    clf_dim shape[3] = {clf_dim_sym(1, CLF_SYM_B), clf_dim_sym(1, CLF_SYM_S), clf_dim_const(d)};
    cr_assert_eq(clf_graph_input(g, "x", CLF_F32, 3, shape, x), CLF_OK);
    return g;
}

Test(graph_plan, activation_and_add_run_in_place_when_the_input_dies)
{
    int32_t x, a, b, c, d, e;
    clf_graph *g = host_graph(&x, 64);
    cr_assert_eq(clf_graph_scale(g, x, 2.0f, &a), CLF_OK);        /* x is an input: not in place */
    cr_assert_eq(clf_graph_activation(g, CLF_ACT_GELU, a, &b), CLF_OK); /* a dies: in place */
    cr_assert_eq(clf_graph_add(g, b, x, &c), CLF_OK);             /* b dies: in place */
    cr_assert_eq(clf_graph_activation(g, CLF_ACT_RELU, c, &d), CLF_OK); /* c lives on: not */
    cr_assert_eq(clf_graph_add(g, d, c, &e), CLF_OK);             /* d dies: in place */
    cr_assert_eq(clf_graph_output(g, e, "y"), CLF_OK);
    cr_assert_eq(clf__graph_plan(g, 256), CLF_OK);
    cr_assert_eq(g->nodes[0].inplace, 0);
    cr_assert_eq(g->nodes[1].inplace, 1);
    cr_assert_eq(g->nodes[2].inplace, 1);
    cr_assert_eq(g->nodes[3].inplace, 0);
    cr_assert_eq(g->nodes[4].inplace, 0, "an output has its own buffer");
    cr_assert_eq(g->t[a].block, g->t[c].block);
    clf_graph_memory_stats m;
    clf_graph_memory(g, &m);
    size_t one = 4 * 16 * 64 * 4;
    cr_assert_eq(m.n_activations, 4);
    cr_assert_eq(m.n_inplace, 2);
    cr_assert_eq(m.activation_bytes, 4 * one);
    cr_assert_eq(m.arena_bytes, 2 * one, "arena %zu, expected two (B, S, 64) blocks", m.arena_bytes);
    cr_assert(m.arena_bytes >= m.lower_bound_bytes);
    clf_graph_free(g);
}

Test(graph_plan, a_view_keeps_its_base_alive)
{
    int32_t x, a, v, b, c;
    clf_graph *g = host_graph(&x, 64);
    cr_assert_eq(clf_graph_scale(g, x, 2.0f, &a), CLF_OK);                                   /* 0 */
    clf_dim flat[2] = {clf_dim_mul(clf_dim_sym(1, CLF_SYM_B), clf_dim_sym(1, CLF_SYM_S)),
                       clf_dim_const(64)};
    cr_assert_eq(clf_graph_reshape(g, a, 2, flat, &v), CLF_OK);                              /* 1 */
    cr_assert_eq(clf_graph_scale(g, x, 3.0f, &b), CLF_OK);                                   /* 2 */
    cr_assert_eq(clf_graph_activation(g, CLF_ACT_RELU, v, &c), CLF_OK);                      /* 3 */
    cr_assert_eq(clf__graph_plan(g, 256), CLF_OK);
    cr_assert_eq(g->t[a].last, 3, "a is read through its view at node 3, last = %d", g->t[a].last);
    cr_assert_eq(g->nodes[3].inplace, 0, "a view's node is not in place");
    const clf__gblock *ba = &g->blocks[g->t[a].block], *bb = &g->blocks[g->t[b].block];
    cr_assert(ba->offset + ba->size <= bb->offset || bb->offset + bb->size <= ba->offset,
              "a (alive through its view) and b overlap");
    clf_graph_free(g);
}

Test(graph_plan, shape_errors_name_the_node_and_the_shapes)
{
    int32_t x, w, y, r;
    clf_graph *g = host_graph(&x, 64);
    cr_assert_eq(clf_graph_scale(g, x, 1.0f, &y), CLF_OK);
    clf_dim ws[2] = {clf_dim_const(32), clf_dim_const(48)};
    cr_assert_eq(clf_graph_input(g, "w", CLF_F32, 2, ws, &w), CLF_OK);
    clf_dim flat[2] = {clf_dim_mul(clf_dim_sym(1, CLF_SYM_B), clf_dim_sym(1, CLF_SYM_S)),
                       clf_dim_const(64)};
    cr_assert_eq(clf_graph_reshape(g, y, 2, flat, &r), CLF_OK);
    cr_assert_eq(clf_graph_gemm(g, r, w, NULL, &y), CLF_ERR_SHAPE);
    const char *msg = clf_context_last_error(NULL);
    cr_assert(strstr(msg, "node 2 (gemm)") && strstr(msg, "(B*S, 64)") && strstr(msg, "(32, 48)"),
              "message: %s", msg);
    clf_dim bad[2] = {clf_dim_sym(1, CLF_SYM_S), clf_dim_const(64)};
    cr_assert_eq(clf_graph_reshape(g, y, 2, bad, &r), CLF_ERR_SHAPE);
    msg = clf_context_last_error(NULL);
    cr_assert(strstr(msg, "node 2 (reshape)") && strstr(msg, "64*B*S") && strstr(msg, "64*S"),
              "message: %s", msg);
    cr_assert_eq(clf_graph_add(g, y, w, &r), CLF_ERR_SHAPE);
    msg = clf_context_last_error(NULL);
    cr_assert(strstr(msg, "node 2 (add)") && strstr(msg, "broadcast"), "message: %s", msg);
    cr_assert_eq(clf_graph_add(g, y, 99, &r), CLF_ERR_INVALID_ARG);
    clf_graph_free(g);
}

/* A transformer-ish stack of views and compute nodes: 60+ nodes plan into
 * at most 1.2x the lower bound. */
Test(graph_plan, a_deep_stack_plans_near_the_lower_bound)
{
    int32_t x;
    clf_graph *g = host_graph(&x, 128);
    clf_dim flat[2] = {clf_dim_mul(clf_dim_sym(1, CLF_SYM_B), clf_dim_sym(1, CLF_SYM_S)),
                       clf_dim_const(128)};
    clf_dim wide[2] = {flat[0], clf_dim_const(512)};
    int32_t h;
    cr_assert_eq(clf_graph_reshape(g, x, 2, flat, &h), CLF_OK);
    cr_assert_eq(clf_graph_scale(g, h, 1.0f, &h), CLF_OK);
    for (int layer = 0; layer < 8; layer++) {
        int32_t a, b, c, d, e, f, s;
        cr_assert_eq(clf_graph_scale(g, h, 0.5f, &a), CLF_OK);
        cr_assert_eq(clf_graph_activation(g, CLF_ACT_GELU, a, &b), CLF_OK);
        cr_assert_eq(clf_graph_add(g, b, h, &c), CLF_OK);
        cr_assert_eq(clf_graph_reshape(g, c, 2, flat, &d), CLF_OK);
        /* A wide intermediate: (B*S, 512) made from four (B*S, 128) tiles
         * would need a gemm; a reshape of a wide input stands in. */
        int32_t wi;
        cr_assert_eq(clf_graph_input(g, NULL, CLF_F32, 2, wide, &wi), CLF_OK);
        cr_assert_eq(clf_graph_scale(g, wi, 1.0f, &e), CLF_OK);
        cr_assert_eq(clf_graph_activation(g, CLF_ACT_RELU, e, &f), CLF_OK);
        cr_assert_eq(clf_graph_scale(g, d, 2.0f, &s), CLF_OK);
        int32_t v;
        clf_dim quarter[2] = {clf_dim_mul(flat[0], clf_dim_const(4)), clf_dim_const(128)};
        cr_assert_eq(clf_graph_reshape(g, f, 2, quarter, &v), CLF_OK);
        int32_t sl;
        cr_assert_eq(clf_graph_slice(g, v, 0, 0, flat[0], &sl), CLF_OK);
        cr_assert_eq(clf_graph_add(g, s, sl, &h), CLF_OK);
    }
    cr_assert_eq(clf_graph_output(g, h, "out"), CLF_OK);
    cr_assert_eq(clf__graph_plan(g, 256), CLF_OK);
    clf_graph_memory_stats m;
    clf_graph_memory(g, &m);
    printf("graph_plan deep stack: %d nodes, arena %zu, no reuse %zu, lower bound %zu (%.3fx), "
           "%d/%d in place\n", clf_graph_node_count(g), m.arena_bytes, m.activation_bytes,
           m.lower_bound_bytes, (double)m.arena_bytes / (double)m.lower_bound_bytes, m.n_inplace,
           m.n_activations);
    cr_assert(clf_graph_node_count(g) >= 50);
    cr_assert(m.arena_bytes >= m.lower_bound_bytes);
    cr_assert(m.arena_bytes * 10 <= m.lower_bound_bytes * 12, "arena %zu > 1.2x lower bound %zu",
              m.arena_bytes, m.lower_bound_bytes);
    cr_assert(m.arena_bytes < m.activation_bytes / 4);
    cr_assert_eq(check_plan(g->blocks, g->n_blocks, 256, m.arena_bytes), 0);
    clf_graph_free(g);
}
