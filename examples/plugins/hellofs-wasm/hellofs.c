/* hellofs-wasm: /hello.txt plus an optional /host proxy into the PFS namespace, as a WASM plugin.
 * Freestanding C (no libc): build with Debian's clang + lld, see the Makefile.
 * ABI: pfs_plugin.h (shipped in src/pfs/external/), compiled with PFS_PLUGIN_WASM. */
#define PFS_PLUGIN_WASM 1
#include <stddef.h>
#include <stdint.h>

#include "pfs_plugin.h"

/* --- a bump allocator over memory.grow: enough for a plugin whose calls are short ----------- */

extern unsigned char __heap_base;
static uintptr_t heap_next = (uintptr_t)&__heap_base;
static uintptr_t heap_end = 0;
/* The host copies every result before its next call, and calls one at a time: so the first
 * allocation after an exported function returned starts a fresh arena. */
static int depth = 0, call_returned = 0;

#define ENTER() (depth++)
#define LEAVE(value) ({ __typeof__(value) result_ = (value); depth--; call_returned = 1; result_; })

PFS_EXPORT(malloc) void *malloc(size_t size) {
    if (heap_end == 0) heap_end = __builtin_wasm_memory_size(0) * 65536;
    if (depth == 0 && call_returned) {
        heap_next = (uintptr_t)&__heap_base;
        call_returned = 0;
    }
    uintptr_t start = (heap_next + 7) & ~(uintptr_t)7;
    if (size == 0) size = 1;
    if (start + size > heap_end) {
        size_t pages = (start + size - heap_end + 65535) / 65536;
        if (__builtin_wasm_memory_grow(0, pages) == (size_t)-1) return NULL;
        heap_end += pages * 65536;
    }
    heap_next = start + size;
    return (void *)start;
}

/* Memory is reclaimed wholesale (see malloc). */
PFS_EXPORT(free) void free(void *ptr, size_t size) { (void)ptr; (void)size; }

void *memcpy(void *dst, const void *src, size_t n) {
    unsigned char *d = dst;
    const unsigned char *s = src;
    while (n--) *d++ = *s++;
    return dst;
}

void *memset(void *dst, int c, size_t n) {
    unsigned char *d = dst;
    while (n--) *d++ = (unsigned char)c;
    return dst;
}

static size_t str_len(const char *s) {
    size_t n = 0;
    while (s[n]) n++;
    return n;
}

static int str_eq(const char *a, const char *b) {
    while (*a && *a == *b) a++, b++;
    return *a == *b;
}

static int starts_with(const char *s, const char *prefix) {
    while (*prefix)
        if (*s++ != *prefix++) return 0;
    return 1;
}

static char *concat(const char *a, const char *b) {
    size_t la = str_len(a), lb = str_len(b);
    char *out = malloc(la + lb + 1);
    if (!out) return NULL;
    memcpy(out, a, la);
    memcpy(out + la, b, lb + 1);
    return out;
}

/* --- the file system ------------------------------------------------------------------------- */

static const char HELLO[] = "Hello World\n";
static const char README[] =
    "hellofs-wasm: a WASM plugin serving /hello.txt (\"Hello World\").\n"
    "With config host_prefix set, /host/<path> forwards to <host_prefix>/<path> in PFS\n"
    "(the mount's host_paths must allow that prefix).\n";
static char host_prefix[512]; /* "" = no /host directory */

PFS_EXPORT(plugin_new) int32_t plugin_new(void) { return 1; }
PFS_EXPORT(plugin_name) const char *plugin_name(void) { return "hellofs-wasm"; }
PFS_EXPORT(plugin_get_readme) const char *plugin_get_readme(void) { return README; }

/* Extract "host_prefix":"..." from the sorted, compact config JSON (no escapes expected). */
static const char *parse_config(const char *config) {
    static const char key[] = "\"host_prefix\":";
    host_prefix[0] = 0;
    for (const char *p = config; *p; p++) {
        if (!starts_with(p, key)) continue;
        p += sizeof(key) - 1;
        if (*p != '"') return "invalid input: host_prefix must be a string";
        p++;
        size_t n = 0;
        while (p[n] && p[n] != '"') n++;
        if (n >= sizeof(host_prefix)) return "invalid input: host_prefix too long";
        memcpy(host_prefix, p, n);
        host_prefix[n] = 0;
        if (n && host_prefix[0] != '/') return "invalid input: host_prefix must start with /";
        break;
    }
    return NULL;
}

static const char *do_plugin_validate(const char *config) {
    return parse_config(config);
}

static const char *do_plugin_initialize(const char *config) {
    return parse_config(config);
}

PFS_EXPORT(plugin_shutdown) const char *plugin_shutdown(void) { return NULL; }

/* "/host/rest" → "<host_prefix>/rest"; NULL when path is not below /host or no prefix is set. */
static const char *host_path(const char *path) {
    if (!host_prefix[0]) return NULL;
    if (str_eq(path, "/host")) return host_prefix;
    if (!starts_with(path, "/host/")) return NULL;
    return concat(host_prefix, path + 5);
}

static uint64_t prefix_error(uint64_t packed) {
    const char *err = (const char *)(uintptr_t)(packed >> 32);
    if (!err) return packed;
    return pfs_pack((const void *)(uintptr_t)(uint32_t)packed, (uint32_t)(uintptr_t)concat("host fs: ", err));
}

static const char *prefix_err_str(uint32_t err) {
    if (!err) return NULL;
    if (err == 1) return "host fs: invalid path";
    return concat("host fs: ", (const char *)(uintptr_t)err);
}

static uint64_t do_fs_read(const char *path, int64_t offset, int64_t size) {
    const char *target = host_path(path);
    if (target) return host_fs_read(target, offset, size);
    if (!str_eq(path, "/hello.txt")) return 0; /* "read failed" */
    int64_t total = sizeof(HELLO) - 1;
    if (offset < 0) offset = 0;
    if (offset > total) offset = total;
    int64_t end = (size < 0 || offset + size > total) ? total : offset + size;
    /* A non-zero pointer even for an empty result: 0 means failure. */
    return pfs_pack(HELLO + offset, (uint32_t)(end - offset));
}

static uint64_t do_fs_write(const char *path, const char *data, uint32_t len) {
    const char *target = host_path(path);
    if (target && !str_eq(path, "/host")) {
        uint64_t reply = host_fs_write(target, data, len);
        return reply ? reply : 0;
    }
    return 0; /* "write failed" */
}

static const char ROOT_JSON[] =
    "{\"Name\":\"\",\"Size\":0,\"Mode\":493,\"ModTime\":\"0001-01-01T00:00:00Z\",\"IsDir\":true}";
static const char HELLO_JSON[] =
    "{\"Name\":\"hello.txt\",\"Size\":12,\"Mode\":420,\"ModTime\":\"0001-01-01T00:00:00Z\","
    "\"IsDir\":false}";
static const char HOST_JSON[] =
    "{\"Name\":\"host\",\"Size\":0,\"Mode\":493,\"ModTime\":\"0001-01-01T00:00:00Z\",\"IsDir\":true}";

static uint64_t do_fs_stat(const char *path) {
    if (str_eq(path, "/")) return pfs_pack(ROOT_JSON, 0);
    if (str_eq(path, "/hello.txt")) return pfs_pack(HELLO_JSON, 0);
    if (host_prefix[0] && str_eq(path, "/host")) return pfs_pack(HOST_JSON, 0);
    const char *target = host_path(path);
    if (target) return prefix_error(host_fs_stat(target));
    return pfs_pack(NULL, (uint32_t)(uintptr_t) "file not found");
}

static uint64_t do_fs_readdir(const char *path) {
    if (str_eq(path, "/")) {
        const char *list = host_prefix[0] ? concat(concat("[", HELLO_JSON), concat(",", concat(HOST_JSON, "]")))
                                          : concat(concat("[", HELLO_JSON), "]");
        return pfs_pack(list, 0);
    }
    const char *target = host_path(path);
    if (target) return prefix_error(host_fs_readdir(target));
    return pfs_pack(NULL, (uint32_t)(uintptr_t) "file not found");
}

#define FORWARD_OR_DENY(call)                                   \
    do {                                                        \
        const char *target = host_path(path);                   \
        if (target && !str_eq(path, "/host"))                   \
            return prefix_err_str(call);                        \
        return "permission denied";                             \
    } while (0)

static const char *do_fs_create(const char *path) {
    FORWARD_OR_DENY(host_fs_create(target));
}

static const char *do_fs_mkdir(const char *path, uint32_t perm) {
    FORWARD_OR_DENY(host_fs_mkdir(target, perm));
}

static const char *do_fs_remove(const char *path) {
    FORWARD_OR_DENY(host_fs_remove(target));
}

static const char *do_fs_remove_all(const char *path) {
    FORWARD_OR_DENY(host_fs_remove_all(target));
}

static const char *do_fs_rename(const char *old_path, const char *new_path) {
    const char *from = host_path(old_path), *to = host_path(new_path);
    if (from && to && !str_eq(old_path, "/host") && !str_eq(new_path, "/host"))
        return prefix_err_str(host_fs_rename(from, to));
    return "permission denied";
}

PFS_EXPORT(fs_chmod) const char *fs_chmod(const char *path, uint32_t mode) {
    (void)path;
    (void)mode;
    return NULL;
}

/* --- exports: every call marks the arena reusable once it returns -------------------------- */

PFS_EXPORT(plugin_validate) const char *plugin_validate(const char *config) {
    ENTER();
    return LEAVE(do_plugin_validate(config));
}

PFS_EXPORT(plugin_initialize) const char *plugin_initialize(const char *config) {
    ENTER();
    return LEAVE(do_plugin_initialize(config));
}

PFS_EXPORT(fs_read) uint64_t fs_read(const char *path, int64_t offset, int64_t size) {
    ENTER();
    return LEAVE(do_fs_read(path, offset, size));
}

PFS_EXPORT(fs_write) uint64_t fs_write(const char *path, const char *data, uint32_t len) {
    ENTER();
    return LEAVE(do_fs_write(path, data, len));
}

PFS_EXPORT(fs_stat) uint64_t fs_stat(const char *path) {
    ENTER();
    return LEAVE(do_fs_stat(path));
}

PFS_EXPORT(fs_readdir) uint64_t fs_readdir(const char *path) {
    ENTER();
    return LEAVE(do_fs_readdir(path));
}

PFS_EXPORT(fs_create) const char *fs_create(const char *path) {
    ENTER();
    return LEAVE(do_fs_create(path));
}

PFS_EXPORT(fs_mkdir) const char *fs_mkdir(const char *path, uint32_t perm) {
    ENTER();
    return LEAVE(do_fs_mkdir(path, perm));
}

PFS_EXPORT(fs_remove) const char *fs_remove(const char *path) {
    ENTER();
    return LEAVE(do_fs_remove(path));
}

PFS_EXPORT(fs_remove_all) const char *fs_remove_all(const char *path) {
    ENTER();
    return LEAVE(do_fs_remove_all(path));
}

PFS_EXPORT(fs_rename) const char *fs_rename(const char *old_path, const char *new_path) {
    ENTER();
    return LEAVE(do_fs_rename(old_path, new_path));
}
