/*
 * The on-disk binary cache. An entry is one file, <dir>/kernels/<key>.clbin:
 *
 *   magic "CLFBIN01" | key (32 bytes) | payload size (u64 LE) |
 *   SHA-256 of payload (32 bytes) | payload
 *
 * The key is in the name and in the file, so a file copied from another
 * device, another source or another library version is detected; the payload
 * hash catches truncation and bit rot. Anything wrong is a miss, never a crash.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "runtime/runtime.h"

static const char magic[8] = {'C', 'L', 'F', 'B', 'I', 'N', '0', '1'};
#define HEADER_BYTES (8 + CLF__CACHE_KEY_BYTES + 8 + 32)
/* No real program binary is this large; a bigger size field is corruption. */
#define MAX_PAYLOAD ((uint64_t)1 << 31)

/* SHA-256 of several byte ranges; each is length-prefixed so that moving bytes
 * between fields changes the digest. */
static int sha256_parts(const void *const *parts, const size_t *sizes, size_t n, unsigned char out[32])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md) return -1;
    int ok = EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1;
    for (size_t i = 0; i < n && ok; i++) {
        uint64_t len = sizes[i];
        ok = EVP_DigestUpdate(md, &len, sizeof len) == 1 && EVP_DigestUpdate(md, parts[i], sizes[i]) == 1;
    }
    unsigned int got = 0;
    ok = ok && EVP_DigestFinal_ex(md, out, &got) == 1 && got == 32;
    EVP_MD_CTX_free(md);
    return ok ? 0 : -1;
}

clf_status clf__device_key(const clf_device_info *info, const char *src, size_t size,
                           const char *options, unsigned char key[CLF__CACHE_KEY_BYTES])
{
    const char *version = CLF_VERSION_STRING;
    const void *parts[] = {version, src, options, info->name, info->vendor,
                           info->driver_version, info->platform_version};
    size_t sizes[] = {strlen(version), size, strlen(options), strlen(info->name),
                      strlen(info->vendor), strlen(info->driver_version),
                      strlen(info->platform_version)};
    if (sha256_parts(parts, sizes, CLF_ARRAY_LEN(parts), key) != 0)
        return clf__error(NULL, CLF_ERR_OUT_OF_MEMORY, "cache key: SHA-256 failed");
    return CLF_OK;
}

clf_status clf__cache_key(const clf_context *ctx, const char *src, size_t size,
                          const char *full_options, unsigned char key[CLF__CACHE_KEY_BYTES])
{
    if (clf__device_key(&ctx->info, src, size, full_options, key) != CLF_OK)
        return clf__error((clf_context *)ctx, CLF_ERR_OUT_OF_MEMORY, "cache key: SHA-256 failed");
    return CLF_OK;
}

void clf__hex(const unsigned char *bytes, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) snprintf(out + 2 * i, 3, "%02x", bytes[i]);
}

clf_status clf__cache_entry_path(const clf_context *ctx,
                                 const unsigned char key[CLF__CACHE_KEY_BYTES], char *buf,
                                 size_t size)
{
    if (!ctx->cache_dir) return CLF_ERR_NOT_FOUND;
    char hex[2 * CLF__CACHE_KEY_BYTES + 1];
    clf__hex(key, CLF__CACHE_KEY_BYTES, hex);
    int w = snprintf(buf, size, "%s/kernels/%s.clbin", ctx->cache_dir, hex);
    return (w > 0 && (size_t)w < size) ? CLF_OK : CLF_ERR_NOT_FOUND;
}

const char *clf__cache_dir_resolve(const char *param, char *buf, size_t size)
{
    char sub[4200], why[512];
    if (param && !*param) return NULL;
    if (param) {
        int w = snprintf(buf, size, "%s", param);
        if (w < 0 || (size_t)w >= size) return NULL;
    } else if (clf__default_cache_dir(buf, size) != CLF_OK) {
        return NULL; /* no HOME and no override: run without a disk cache */
    }
    const char *bad = buf;
    clf__cache_dir_verdict v = clf__cache_dir_check(buf, why, sizeof why);
    /* The folder being ours alone does not make what earlier runs left in
     * it so: a subfolder someone opened to others is refused the same way. */
    static const char *const subfolders[] = {"kernels", "scores"};
    for (size_t i = 0; i < CLF_ARRAY_LEN(subfolders) && v == CLF__CACHE_DIR_OK; i++) {
        snprintf(sub, sizeof sub, "%s/%s", buf, subfolders[i]);
        bad = sub;
        struct stat st;
        if (lstat(sub, &st) == 0) v = clf__cache_dir_trusted(sub, why, sizeof why);
    }
    if (v == CLF__CACHE_DIR_OK) return buf;
    clf__cache_warn(bad, why);
    return NULL;
}

static uint64_t get_u64le(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static void put_u64le(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

clf__cache_result clf__cache_load(clf_context *ctx, const unsigned char key[CLF__CACHE_KEY_BYTES],
                                  unsigned char **bin, size_t *size)
{
    *bin = NULL;
    *size = 0;
    char path[4200];
    if (clf__cache_entry_path(ctx, key, path, sizeof path) != CLF_OK) return CLF__CACHE_ABSENT;
    /* Through clf__file_read_all: a FIFO or device planted at the entry's
     * name is refused at once (a miss), never waited on or read forever. */
    char *text = NULL, msg[256];
    size_t len = 0;
    clf_status st = clf__file_read_all(path, HEADER_BYTES + MAX_PAYLOAD, &text, &len, msg,
                                       sizeof msg);
    if (st == CLF_ERR_NOT_FOUND) return CLF__CACHE_ABSENT;
    if (st != CLF_OK) return CLF__CACHE_REJECTED;

    clf__cache_result result = CLF__CACHE_REJECTED;
    const unsigned char *header = (const unsigned char *)text;
    if (len < HEADER_BYTES) goto done;
    if (memcmp(header, magic, 8) != 0) goto done;
    if (memcmp(header + 8, key, CLF__CACHE_KEY_BYTES) != 0) goto done;
    uint64_t n = get_u64le(header + 8 + CLF__CACHE_KEY_BYTES);
    /* A size other than the rest of the file (short, or trailing bytes) is
     * not a file we wrote. */
    if (n == 0 || n > MAX_PAYLOAD || n != len - HEADER_BYTES) goto done;
    unsigned char digest[32];
    const void *parts[] = {header + HEADER_BYTES};
    size_t sizes[] = {(size_t)n};
    if (sha256_parts(parts, sizes, 1, digest) != 0) goto done;
    if (memcmp(digest, header + 8 + CLF__CACHE_KEY_BYTES + 8, 32) != 0) goto done;
    memmove(text, text + HEADER_BYTES, (size_t)n); /* the caller frees *bin */
    *bin = (unsigned char *)text;
    *size = (size_t)n;
    text = NULL;
    result = CLF__CACHE_HIT;
done:
    clf__free(text);
    return result;
}

int clf__cache_store(clf_context *ctx, const unsigned char key[CLF__CACHE_KEY_BYTES],
                     const unsigned char *bin, size_t size)
{
    char path[4200], dir[4200];
    if (clf__cache_entry_path(ctx, key, path, sizeof path) != CLF_OK) return -1;
    snprintf(dir, sizeof dir, "%s/kernels", ctx->cache_dir);
    if (clf__mkdirs(dir) != 0) return -1;

    unsigned char header[HEADER_BYTES];
    memcpy(header, magic, 8);
    memcpy(header + 8, key, CLF__CACHE_KEY_BYTES);
    put_u64le(header + 8 + CLF__CACHE_KEY_BYTES, size);
    const void *parts[] = {bin};
    size_t sizes[] = {size};
    if (sha256_parts(parts, sizes, 1, header + 8 + CLF__CACHE_KEY_BYTES + 8) != 0) return -1;

    const void *file[] = {header, bin};
    size_t file_sizes[] = {sizeof header, size};
    return clf__file_replace(path, file, file_sizes, 2);
}

/* write() until every byte is out: a short write is not an error. */
static int write_all(int fd, const void *data, size_t size)
{
    const unsigned char *p = data;
    while (size > 0) {
        ssize_t w = write(fd, p, size);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        size -= (size_t)w;
    }
    return 0;
}

int clf__file_replace(const char *path, const void *const *parts, const size_t *sizes, size_t n)
{
    /* A temp file beside the target, then an atomic rename: a reader never
     * sees a half-written file, and concurrent writers of the same key
     * simply replace each other's identical result. mkstemp gives the temp
     * file a random name and creates it with O_CREAT | O_EXCL, mode 0600:
     * a name planted in advance (a symlink to a file of the user's) is
     * never opened, let alone written through, and rename replaces a link
     * at the final name instead of following it. */
    char tmp[4300];
    int w = snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path);
    if (w < 0 || (size_t)w >= sizeof tmp) return -1;
    int fd = mkstemp(tmp);
    if (fd < 0) return -1;
    int ok = 1;
    for (size_t i = 0; i < n && ok; i++) ok = write_all(fd, parts[i], sizes[i]) == 0;
    ok = (close(fd) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}
