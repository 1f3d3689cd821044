/* Host tests: the binary cache's keys and entries, on a fake context (no
 * OpenCL device needed). Device-level rebuild behaviour is in test_program.c. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/fresh.h"
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

/* A FIFO planted at an entry's or a score file's name is a miss at once:
 * before the reads went through clf__file_open, the open blocked forever
 * waiting for a writer (alarm() turns a hang into a failure). */
Test(cache, fifo_at_an_entry_or_score_name_is_a_miss_never_waited_on, .timeout = 20)
{
    unsigned char key[32];
    key_of("fifo", "", key);
    char path[700];
    entry_path(key, path, sizeof path);
    char kdir[600];
    snprintf(kdir, sizeof kdir, "%s/kernels", dir);
    cr_assert_eq(clf__mkdirs(kdir), 0);
    cr_assert_eq(mkfifo(path, 0600), 0, "%s", path);
    alarm(10);
    size_t size;
    cr_assert_eq(load(key, &size), CLF__CACHE_REJECTED);

    fake.info.available = true;
    char scores[600], spath[700];
    snprintf(scores, sizeof scores, "%s/scores", dir);
    cr_assert_eq(clf__mkdirs(scores), 0);
    cr_assert_eq(clf__device_score_path(&fake.info, dir, spath, sizeof spath), 0);
    cr_assert_eq(mkfifo(spath, 0600), 0, "%s", spath);
    cr_assert_eq(cached_score(), 0, "a FIFO is a miss");
    alarm(0);
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

/* ---- the cache folder: links, modes, owners, space (issue #13, defects 2 and 5) ---- */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    cr_assert(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

static int file_is(const char *path, const char *text)
{
    char buf[256] = "";
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t got = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[got] = '\0';
    return strcmp(buf, text) == 0;
}

/* The writer used to open "<entry>.tmp.<pid>.<n>" with fopen("wb"): a
 * symlink planted at that predictable name had its target overwritten with
 * the entry (and the link was then renamed into place). Links at every
 * name the old scheme could use in this process, and at the entry's own
 * name: no target changes, and the entry is a plain file of ours. */
Test(cache, links_planted_in_the_folder_are_never_written_through)
{
    unsigned char key[32];
    key_of("planted", "", key);
    char path[700], kdir[600], victim[600], link[800];
    entry_path(key, path, sizeof path);
    snprintf(kdir, sizeof kdir, "%s/kernels", dir);
    snprintf(victim, sizeof victim, "%s/victim.txt", dir);
    cr_assert_eq(clf__mkdirs(kdir), 0);
    write_file(victim, "do not overwrite");
    for (unsigned n = 0; n < 64; n++) {
        snprintf(link, sizeof link, "%s.tmp.%ld.%u", path, (long)getpid(), n);
        cr_assert_eq(symlink(victim, link), 0, "%s", link);
    }
    cr_assert_eq(symlink(victim, path), 0);

    for (int i = 0; i < 3; i++)
        cr_assert_eq(clf__cache_store(&fake, key, payload, sizeof payload), 0);
    cr_assert(file_is(victim, "do not overwrite"), "the link's target was written through");
    struct stat st;
    cr_assert_eq(lstat(path, &st), 0);
    cr_assert(S_ISREG(st.st_mode), "the entry is a regular file, not the planted link");
    cr_assert_eq(st.st_mode & 0777, 0600, "entries are 0600, got %03o", (unsigned)(st.st_mode & 0777));
    size_t size;
    cr_assert_eq(load(key, &size), CLF__CACHE_HIT);

    /* The same through the score files' writer. */
    char score[700];
    snprintf(score, sizeof score, "%s/score-link.txt", dir);
    cr_assert_eq(symlink(victim, score), 0);
    const void *parts[] = {"new"};
    size_t sizes[] = {3};
    cr_assert_eq(clf__file_replace(score, parts, sizes, 1), 0);
    cr_assert(file_is(victim, "do not overwrite"));
    cr_assert(file_is(score, "new"));
}

static unsigned mode_of(const char *path)
{
    struct stat st;
    cr_assert_eq(stat(path, &st), 0, "%s", path);
    return (unsigned)(st.st_mode & 07777);
}

Test(cache, folders_the_library_creates_are_0700)
{
    mode_t old = umask(0); /* the most permissive caller: nothing opened by the umask's leave */
    char top[600], mid[700], leaf[800], why[512];
    snprintf(top, sizeof top, "%s/a", dir);
    snprintf(mid, sizeof mid, "%s/b", top);
    snprintf(leaf, sizeof leaf, "%s/clformer", mid);
    cr_assert_eq(clf__cache_dir_check(leaf, why, sizeof why), CLF__CACHE_DIR_OK, "%s", why);
    cr_assert_eq(mode_of(top), 0700, "%03o", mode_of(top));
    cr_assert_eq(mode_of(mid), 0700, "%03o", mode_of(mid));
    cr_assert_eq(mode_of(leaf), 0700, "%03o", mode_of(leaf));
    fake.cache_dir = leaf;
    unsigned char key[32];
    key_of("k", "", key);
    cr_assert_eq(clf__cache_store(&fake, key, payload, sizeof payload), 0);
    char kdir[900];
    snprintf(kdir, sizeof kdir, "%s/kernels", leaf);
    cr_assert_eq(mode_of(kdir), 0700, "%03o", mode_of(kdir));
    umask(old);
}

/* clf__cache_dir_resolve on folder, with stderr in a file: the folder it
 * gives (NULL = refused) and the number of warning lines printed. */
static const char *resolve_counting(const char *folder, int *warnings)
{
    static char buf[4096];
    char log[600];
    snprintf(log, sizeof log, "%s.stderr", dir);
    int saved = clft_stderr_to(log);
    const char *got = clf__cache_dir_resolve(folder, buf, sizeof buf);
    clft_stderr_restore(saved);
    *warnings = clft_count_in_file(log, "clformer: warning");
    remove(log);
    return got;
}

Test(cache, folder_writable_by_group_or_others_is_refused_with_one_warning)
{
    char open_dir[600], sub[700], why[512];
    snprintf(open_dir, sizeof open_dir, "%s/shared", dir);
    cr_assert_eq(mkdir(open_dir, 0700), 0);
    int w = 0;
    cr_assert_not_null(resolve_counting(open_dir, &w), "0700 is fine");
    cr_assert_eq(w, 0);
    cr_assert_eq(chmod(open_dir, 0755), 0);
    cr_assert_not_null(resolve_counting(open_dir, &w), "0755 (an old run's folder) is fine");

    unsigned modes[] = {0770, 0707, 01777};
    const char *whom[] = {"its group", "others", "others"};
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq(chmod(open_dir, modes[i]), 0);
        cr_assert_eq(clf__cache_dir_trusted(open_dir, why, sizeof why), CLF__CACHE_DIR_UNUSABLE,
                     "mode %03o", modes[i]);
        cr_assert(strstr(why, whom[i]), "mode %03o: %s", modes[i], why);
    }
    cr_assert_null(resolve_counting(open_dir, &w), "a world-writable folder must be refused");
    cr_assert_eq(w, 1, "one warning");
    cr_assert_null(resolve_counting(open_dir, &w));
    cr_assert_eq(w, 0, "and only one per process");

    /* A subfolder an earlier run left and someone opened up. */
    cr_assert_eq(chmod(open_dir, 0700), 0);
    snprintf(sub, sizeof sub, "%s/kernels", open_dir);
    cr_assert_eq(mkdir(sub, 0700), 0);
    cr_assert_eq(chmod(sub, 0777), 0);
    cr_assert_null(resolve_counting(open_dir, &w), "kernels/ writable by others");
}

Test(cache, folder_of_another_user_is_refused)
{
    if (geteuid() != 0) cr_skip_test("needs root to give a folder to another user");
    char theirs[600], why[512];
    snprintf(theirs, sizeof theirs, "%s/theirs", dir);
    cr_assert_eq(mkdir(theirs, 0700), 0);
    cr_assert_eq(chown(theirs, 65534, 65534), 0);
    cr_assert_eq(clf__cache_dir_check(theirs, why, sizeof why), CLF__CACHE_DIR_UNUSABLE);
    cr_assert(strstr(why, "belongs to uid 65534"), "%s", why);
}

/* As uid 65534, in a child (a test process that is root would write
 * anywhere): a folder of its own that it may not write to. */
static int readonly_as_nobody(void *arg)
{
    const char *ro = arg;
    char why[512];
    if (setgid(65534) != 0 || setuid(65534) != 0) return 3;
    if (clf__cache_dir_check(ro, why, sizeof why) != CLF__CACHE_DIR_UNUSABLE) return 1;
    return strstr(why, "cannot be written") ? 0 : 2;
}

Test(cache, folder_that_cannot_be_written_is_refused)
{
    char file[600], under[700], ro[600], why[512];
    snprintf(file, sizeof file, "%s/a-file", dir);
    write_file(file, "x");
    cr_assert_eq(clf__cache_dir_check(file, why, sizeof why), CLF__CACHE_DIR_UNUSABLE);
    cr_assert(strstr(why, "is not a folder"), "%s", why);
    snprintf(under, sizeof under, "%s/sub/dir", file);
    cr_assert_eq(clf__cache_dir_check(under, why, sizeof why), CLF__CACHE_DIR_UNUSABLE);
    cr_assert(strstr(why, "cannot be created"), "%s", why);

    snprintf(ro, sizeof ro, "%s/readonly", dir);
    cr_assert_eq(mkdir(ro, 0500), 0);
    if (geteuid() == 0) {
        /* Root writes to a 0500 folder all the same: ask as another user. */
        cr_assert_eq(chmod(dir, 0755), 0);
        cr_assert_eq(chown(ro, 65534, 65534), 0);
        int status = clft_fork_run(readonly_as_nobody, ro);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "wait status %#x", status);
    } else {
        cr_assert_eq(clf__cache_dir_check(ro, why, sizeof why), CLF__CACHE_DIR_UNUSABLE);
        cr_assert(strstr(why, "cannot be written"), "%s", why);
    }
}

/* A full disk cannot be made here without mounting one; the decision is a
 * pure function of statvfs's figures, given these. */
Test(cache, nearly_full_disk_turns_the_cache_off)
{
    char why[512] = "";
    const uint64_t mib = 1 << 20;
    cr_assert_eq(clf__cache_space_verdict(0, 100, 100, why, sizeof why), CLF__CACHE_DIR_LOW_SPACE);
    cr_assert(strstr(why, "0 MiB free"), "%s", why);
    cr_assert_eq(clf__cache_space_verdict(63 * mib, 100, 100, why, sizeof why),
                 CLF__CACHE_DIR_LOW_SPACE);
    cr_assert_eq(clf__cache_space_verdict(64 * mib, 100, 100, why, sizeof why), CLF__CACHE_DIR_OK);
    cr_assert_eq(clf__cache_space_verdict(1000 * mib, 0, 100, why, sizeof why),
                 CLF__CACHE_DIR_LOW_SPACE, "no inodes left");
    cr_assert(strstr(why, "inodes"), "%s", why);
    cr_assert_eq(clf__cache_space_verdict(1000 * mib, 0, 0, why, sizeof why), CLF__CACHE_DIR_OK,
                 "no inode table (btrfs): bytes decide");
}

/* A write that fails midway (the disk filling up; here a file size limit,
 * which fails write() the same way) leaves neither an entry nor a temp
 * file, and the next store works. */
Test(cache, write_that_fails_midway_leaves_nothing)
{
    unsigned char key[32];
    key_of("full", "", key);
    struct rlimit old, tiny;
    cr_assert_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    tiny = old;
    tiny.rlim_cur = 16; /* smaller than an entry's header */
    signal(SIGXFSZ, SIG_IGN); /* write() then fails with EFBIG instead of killing */
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &tiny), 0);
    cr_assert_eq(clf__cache_store(&fake, key, payload, sizeof payload), -1);
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
    char kdir[600];
    snprintf(kdir, sizeof kdir, "%s/kernels", dir);
    DIR *d = opendir(kdir);
    cr_assert_not_null(d);
    for (struct dirent *e; (e = readdir(d));)
        cr_assert(e->d_name[0] == '.', "left behind: %s", e->d_name);
    closedir(d);
    size_t size;
    cr_assert_eq(load(key, &size), CLF__CACHE_ABSENT);
    cr_assert_eq(clf__cache_store(&fake, key, payload, sizeof payload), 0);
    cr_assert_eq(load(key, &size), CLF__CACHE_HIT);
}
