/* Host tests: the binary cache's keys and entries, on a fake context (no
 * OpenCL device needed). Device-level rebuild behaviour is in test_program.c. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/testutil.h"
#include "runtime/runtime.h"

static clf_context fake;
static char dir[512];

static void setup(void)
{
    memset(&fake, 0, sizeof fake);
    clft_tempdir(dir, sizeof dir, "cache");
    fake.cache_dir = dir;
    snprintf(fake.info.name, sizeof fake.info.name, "Test Device");
    snprintf(fake.info.vendor, sizeof fake.info.vendor, "Test Vendor");
    snprintf(fake.info.driver_version, sizeof fake.info.driver_version, "1.0");
    snprintf(fake.info.platform_version, sizeof fake.info.platform_version, "OpenCL 3.0 test");
}

static void teardown(void) { clft_rmtree(dir); }

TestSuite(cache, .init = setup, .fini = teardown);

static void key_of(const char *src, const char *opts, unsigned char key[32])
{
    cr_assert_eq(clf__cache_key(&fake, src, strlen(src), opts, key), CLF_OK);
}

Test(cache, key_changes_with_every_input)
{
    unsigned char base[32], k[32];
    key_of("kernel", "-DA=1", base);
    key_of("kernel", "-DA=1", k);
    cr_assert_arr_eq(base, k, 32, "the key is deterministic");
    key_of("kernel ", "-DA=1", k);
    cr_assert_arr_neq(base, k, 32, "source");
    key_of("kernel", "-DA=2", k);
    cr_assert_arr_neq(base, k, 32, "options");
    key_of("kerne", "l-DA=1", k);
    cr_assert_arr_neq(base, k, 32, "bytes moved across fields");
    char *fields[] = {fake.info.name, fake.info.vendor, fake.info.driver_version,
                      fake.info.platform_version};
    for (int f = 0; f < 4; f++) {
        char saved[256];
        snprintf(saved, sizeof saved, "%s", fields[f]);
        strcat(fields[f], "x");
        key_of("kernel", "-DA=1", k);
        cr_assert_arr_neq(base, k, 32, "device field %d", f);
        strcpy(fields[f], saved);
    }
}

static void entry_path(const unsigned char key[32], char *path, size_t size)
{
    cr_assert_eq(clf__cache_entry_path(&fake, key, path, size), CLF_OK);
}

static clf__cache_result load(const unsigned char key[32], size_t *size)
{
    unsigned char *bin = NULL;
    clf__cache_result r = clf__cache_load(&fake, key, &bin, size);
    if (r == CLF__CACHE_HIT) cr_assert_not_null(bin);
    else cr_assert_null(bin);
    clf__free(bin);
    return r;
}

static const unsigned char payload[] = "a program binary, or something standing in for one";

Test(cache, store_then_load_is_a_hit_with_the_same_bytes)
{
    long live = clf__alloc_live();
    unsigned char key[32];
    key_of("k", "", key);
    size_t size = 0;
    cr_assert_eq(load(key, &size), CLF__CACHE_ABSENT);
    cr_assert_eq(clf__cache_store(&fake, key, payload, sizeof payload), 0);
    unsigned char *bin = NULL;
    cr_assert_eq(clf__cache_load(&fake, key, &bin, &size), CLF__CACHE_HIT);
    cr_assert_eq(size, sizeof payload);
    cr_assert_arr_eq(bin, payload, sizeof payload);
    clf__free(bin);
    cr_assert_eq(clf__alloc_live(), live, "no leak");

    /* The temp file was renamed away: only the entry is left. */
    char kdir[600];
    snprintf(kdir, sizeof kdir, "%s/kernels", dir);
    DIR *d = opendir(kdir);
    int files = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.') {
            files++;
            cr_assert(strstr(e->d_name, ".clbin") && !strstr(e->d_name, ".tmp"), "%s", e->d_name);
        }
    closedir(d);
    cr_assert_eq(files, 1);
}

/* Rewrites an entry with f applied to its bytes. */
static void mangle(const unsigned char key[32], void (*f)(unsigned char *buf, long *n))
{
    char path[700];
    entry_path(key, path, sizeof path);
    FILE *fp = fopen(path, "rb");
    cr_assert_not_null(fp);
    static unsigned char buf[1 << 16];
    long n = (long)fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    f(buf, &n);
    fp = fopen(path, "wb");
    fwrite(buf, 1, (size_t)n, fp);
    fclose(fp);
}

static void truncate_half(unsigned char *b, long *n) { (void)b; *n /= 2; }
static void truncate_one(unsigned char *b, long *n) { (void)b; *n -= 1; }
static void to_empty(unsigned char *b, long *n) { (void)b; *n = 0; }
static void flip_payload(unsigned char *b, long *n) { b[*n - 3] ^= 0x10; }
static void flip_magic(unsigned char *b, long *n) { (void)n; b[0] = 'X'; }
static void huge_size(unsigned char *b, long *n) { (void)n; memset(b + 40, 0xff, 8); }
static void trailing(unsigned char *b, long *n) { b[(*n)++] = 0; }

Test(cache, truncated_corrupted_or_padded_entries_are_rejected)
{
    void (*manglers[])(unsigned char *, long *) = {truncate_half, truncate_one, to_empty,
                                                    flip_payload, flip_magic, huge_size, trailing};
    const char *names[] = {"half", "minus one byte", "empty", "payload bit", "magic",
                           "huge size field", "trailing byte"};
    long live = clf__alloc_live();
    for (size_t i = 0; i < sizeof manglers / sizeof manglers[0]; i++) {
        unsigned char key[32];
        key_of(names[i], "", key);
        cr_assert_eq(clf__cache_store(&fake, key, payload, sizeof payload), 0);
        size_t size;
        cr_assert_eq(load(key, &size), CLF__CACHE_HIT);
        mangle(key, manglers[i]);
        cr_assert_eq(load(key, &size), CLF__CACHE_REJECTED, "mangled: %s", names[i]);
        /* Replacing the entry makes it good again. */
        cr_assert_eq(clf__cache_store(&fake, key, payload, sizeof payload), 0);
        cr_assert_eq(load(key, &size), CLF__CACHE_HIT, "after replacing: %s", names[i]);
    }
    cr_assert_eq(clf__alloc_live(), live, "no leak");
}

Test(cache, entry_for_another_device_is_rejected)
{
    unsigned char mine[32], foreign[32];
    key_of("kernel", "", mine);
    snprintf(fake.info.name, sizeof fake.info.name, "Some Other GPU");
    key_of("kernel", "", foreign);
    cr_assert_eq(clf__cache_store(&fake, foreign, payload, sizeof payload), 0);
    snprintf(fake.info.name, sizeof fake.info.name, "Test Device");
    /* A valid entry, but made for another device, copied under our name. */
    char from[700], to[700];
    entry_path(foreign, from, sizeof from);
    entry_path(mine, to, sizeof to);
    cr_assert_eq(rename(from, to), 0);
    size_t size;
    cr_assert_eq(load(mine, &size), CLF__CACHE_REJECTED);
}

Test(cache, disabled_cache_never_touches_disk)
{
    fake.cache_dir = NULL;
    unsigned char key[32];
    key_of("k", "", key);
    char path[700];
    cr_assert_eq(clf__cache_entry_path(&fake, key, path, sizeof path), CLF_ERR_NOT_FOUND);
    cr_assert_eq(clf__cache_store(&fake, key, payload, sizeof payload), -1);
    size_t size;
    cr_assert_eq(load(key, &size), CLF__CACHE_ABSENT);
}

Test(cache, unwritable_folder_is_not_an_error_for_loads)
{
    fake.cache_dir = "/proc/clformer-cannot-exist";
    unsigned char key[32];
    key_of("k", "", key);
    cr_assert_eq(clf__cache_store(&fake, key, payload, sizeof payload), -1);
    size_t size;
    cr_assert_eq(load(key, &size), CLF__CACHE_ABSENT);
}

/* ---- device score files (src/runtime/score.c) ---- */

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    cr_assert(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

/* The score the cache gives for fake.info now, with the process memory
 * forgotten so that the file is what answers. */
static double cached_score(void)
{
    clf__score_forget();
    clf_device_info info = fake.info;
    info.score = -1;
    bool hit = clf__device_score_cached(&info, dir);
    cr_assert_eq(hit, info.score > 0, "hit %d, score %g", hit, info.score);
    return info.score;
}

Test(cache, score_file_is_read_only_when_whole_and_its_own)
{
    fake.info.available = true;
    char path[700], scores[600], hex[65], text[512];
    snprintf(scores, sizeof scores, "%s/scores", dir);
    cr_assert_eq(clf__mkdirs(scores), 0);
    cr_assert_eq(clf__device_score_path(&fake.info, dir, path, sizeof path), 0);
    cr_assert_eq(strlen(strrchr(path, '/') + 1), 64 + 4, "%s", path);
    memcpy(hex, strrchr(path, '/') + 1, 64);
    hex[64] = '\0';
    cr_assert_eq(cached_score(), 0, "no file: a miss");

    snprintf(text, sizeof text, "clformer device score v1\nkey %s\nscore 123.5\n", hex);
    write_text(path, text);
    cr_assert_eq(cached_score(), 123.5);

    /* Foreign: a good file of another device copied under this one's name. */
    char other[700];
    clf_device_info o = fake.info;
    snprintf(o.driver_version, sizeof o.driver_version, "2.0");
    cr_assert_eq(clf__device_score_path(&o, dir, other, sizeof other), 0);
    cr_assert_str_neq(other, path, "a driver update is another key");
    snprintf(text, sizeof text, "clformer device score v1\nkey %.64s\nscore 99\n",
             strrchr(other, '/') + 1);
    write_text(path, text);
    cr_assert_eq(cached_score(), 0, "foreign key");

    const char *bodies[] = {"score 123.5", "score nan", "score inf", "score -4", "score 0",
                            "score abc", "score 12x", "score 123.5\nextra", "score "};
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        snprintf(text, sizeof text, "clformer device score v1\nkey %s\n%s\n", hex, bodies[i]);
        if (i == 0) text[strlen(text) - 1] = '\0'; /* truncated: no final newline */
        write_text(path, text);
        cr_assert_eq(cached_score(), 0, "bad body \"%s\" must be a miss", bodies[i]);
    }
    snprintf(text, sizeof text, "clformer device score v0\nkey %s\nscore 5\n", hex);
    write_text(path, text);
    cr_assert_eq(cached_score(), 0, "another format version");
    write_text(path, "");
    cr_assert_eq(cached_score(), 0, "empty");

    /* A good file again, remembered: the process memory answers even after
     * the file goes bad, until forgotten. */
    snprintf(text, sizeof text, "clformer device score v1\nkey %s\nscore 7.25\n", hex);
    write_text(path, text);
    cr_assert_eq(cached_score(), 7.25);
    write_text(path, "garbage");
    clf_device_info info = fake.info;
    cr_assert(clf__device_score_cached(&info, dir));
    cr_assert_eq(info.score, 7.25);
    cr_assert_eq(cached_score(), 0);

    info.available = false;
    cr_assert(!clf__device_score_cached(&info, dir), "unavailable devices have no score");
    cr_assert_eq(info.score, 0);
    clf__score_forget();
    info.available = true;
    cr_assert(!clf__device_score_cached(&info, NULL), "no cache folder: a miss");
}
