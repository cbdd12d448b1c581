/* agfswasm: a WASM test plugin written against AGFS's ABI (AGFS.md §7), packing results the way
 * AGFS's SDKs do (count/id low, error pointer high).
 *   - 5-argument fs_write(path, data, len, offset, flags): offset -1 = whole file; flags APPEND 1,
 *     CREATE 2, EXCLUSIVE 4, TRUNCATE 8
 *   - handle_open/read/read_at/write/write_at/seek/sync/stat/close over the same files
 *   - host_http_request: reading /http/<host:port>/<path> GETs http://<host:port>/<path> and
 *     answers the host's response JSON as it came
 *   - /host/<PFS path> reads and writes through host_fs_read / host_fs_write (v2: the count)
 *   - plugin_get_config_params, the shared input/output buffers, a free the host calls
 *   - no plugin_new (optional in v2)
 * Files live in this instance's memory (up to 16 files of 64 KiB). Diagnostics, read-only:
 *   /config  the config of the last plugin_initialize     /calls   fs_read calls so far
 *   /shared  arguments the host placed in the input buffer /frees   "<sized> <unsized>" frees
 * Freestanding C: clang --target=wasm32 -nostdlib (see the Makefile). */
#define PFS_PLUGIN_WASM 1
#include <stddef.h>
#include <stdint.h>

#include "pfs_plugin.h"

PFS_IMPORT(host_http_request) uint64_t host_http_request(const char *request);

/* --- memory: an arena reset at the first allocation after an export returned --------------- */

extern unsigned char __heap_base;
static uintptr_t heap_next = (uintptr_t)&__heap_base;
static uintptr_t heap_end = 0;
static int depth = 0, call_returned = 0;
static uint32_t sized_frees = 0, unsized_frees = 0;

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

/* The host frees what it placed (size > 0) and what it read (size 0); the arena reclaims it. */
PFS_EXPORT(free) void free(void *ptr, size_t size) {
    (void)ptr;
    if (size) sized_frees++;
    else unsized_frees++;
}

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

/* A heap copy: the host frees what it reads, so nothing returned may be static. */
static char *dup_n(const char *s, size_t n) {
    char *out = malloc(n + 1);
    if (!out) return NULL;
    memcpy(out, s, n);
    out[n] = 0;
    return out;
}

static char *dup(const char *s) { return dup_n(s, str_len(s)); }

/* A growing string in the arena. */
typedef struct {
    char *data;
    size_t len, cap;
} Buf;

static void put_n(Buf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *grown = malloc(cap);
        if (b->data) memcpy(grown, b->data, b->len);
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = 0;
}

static void put(Buf *b, const char *s) { put_n(b, s, str_len(s)); }

static void put_u64(Buf *b, uint64_t v) {
    char digits[24];
    int n = 0;
    do digits[n++] = (char)('0' + v % 10), v /= 10;
    while (v);
    while (n) put_n(b, &digits[--n], 1);
}

static uint64_t ok_count(uint64_t count) { return count; }
static uint64_t fail(const char *message) { return (uint64_t)(uintptr_t)dup(message) << 32; }

/* --- the files --------------------------------------------------------------------------------- */

#define MAX_FILES 16
#define MAX_SIZE 65536

typedef struct {
    char name[64]; /* "" = free slot; names are one level: "/a.txt" */
    uint32_t size, mode;
    unsigned char data[MAX_SIZE];
} File;

static File files[MAX_FILES];
static char config[1024];
static uint32_t read_calls = 0, shared_args = 0;

static const char *diagnostics[] = {"/config", "/calls", "/shared", "/frees"};

static File *find(const char *path) {
    for (int i = 0; i < MAX_FILES; i++)
        if (files[i].name[0] && str_eq(files[i].name, path)) return &files[i];
    return NULL;
}

static File *make(const char *path, uint32_t mode, const char **error) {
    if (path[0] != '/' || !path[1] || str_len(path) >= sizeof(files[0].name)) {
        *error = "invalid path";
        return NULL;
    }
    for (const char *p = path + 1; *p; p++)
        if (*p == '/') {
            *error = "no such directory";
            return NULL;
        }
    for (int i = 0; i < MAX_FILES; i++)
        if (!files[i].name[0]) {
            memcpy(files[i].name, path, str_len(path) + 1);
            files[i].size = 0;
            files[i].mode = mode;
            return &files[i];
        }
    *error = "no space left: 16 files at most";
    return NULL;
}

/* Write len bytes at offset (grows the file, zero-filling a gap). */
static const char *write_at(File *f, const char *data, uint32_t len, uint64_t offset) {
    if (offset + len > MAX_SIZE) return "file too large: 65536 bytes at most";
    if (offset > f->size) memset(f->data + f->size, 0, offset - f->size);
    memcpy(f->data + offset, data, len);
    if (offset + len > f->size) f->size = (uint32_t)(offset + len);
    return NULL;
}

static void info_json(Buf *b, const char *name, uint64_t size, uint32_t mode, int dir) {
    put(b, "{\"Name\":\"");
    put(b, name);
    put(b, "\",\"Size\":");
    put_u64(b, size);
    put(b, ",\"Mode\":");
    put_u64(b, mode);
    put(b, ",\"ModTime\":\"0001-01-01T00:00:00Z\",\"IsDir\":");
    put(b, dir ? "true" : "false");
    put(b, ",\"Meta\":{\"Name\":\"agfswasm\",\"Type\":\"");
    put(b, dir ? "dir" : "file");
    put(b, "\",\"Content\":null}}");
}

/* --- lifecycle ----------------------------------------------------------------------------------- */

PFS_EXPORT(plugin_name) const char *plugin_name(void) {
    ENTER();
    return LEAVE(dup("agfswasm"));
}

PFS_EXPORT(plugin_get_config_params) const char *plugin_get_config_params(void) {
    ENTER();
    return LEAVE(dup("[{\"name\":\"greeting\",\"type\":\"string\",\"required\":false,"
                     "\"default\":\"hello\",\"description\":\"text of /config's reader\"}]"));
}

PFS_EXPORT(plugin_validate) const char *plugin_validate(const char *cfg) {
    ENTER();
    const char *error = NULL;
    for (const char *p = cfg; *p; p++)
        if (starts_with(p, "\"reject\":true")) error = dup("invalid config: reject is set");
    return LEAVE(error);
}

PFS_EXPORT(plugin_initialize) const char *plugin_initialize(const char *cfg) {
    ENTER();
    size_t n = str_len(cfg);
    if (n >= sizeof(config)) n = sizeof(config) - 1;
    memcpy(config, cfg, n);
    config[n] = 0;
    return LEAVE((const char *)NULL);
}

PFS_EXPORT(plugin_shutdown) const char *plugin_shutdown(void) { return NULL; }

/* --- shared buffers ------------------------------------------------------------------------------ */

static char input_buffer[4096], output_buffer[4096];

PFS_EXPORT(get_input_buffer_ptr) char *get_input_buffer_ptr(void) { return input_buffer; }
PFS_EXPORT(get_output_buffer_ptr) char *get_output_buffer_ptr(void) { return output_buffer; }
PFS_EXPORT(get_shared_buffer_size) uint32_t get_shared_buffer_size(void) {
    return sizeof(input_buffer);
}

static void note_shared(const void *arg) {
    if ((const char *)arg == input_buffer) shared_args++;
}

/* --- fs_* ------------------------------------------------------------------------------------- */

static uint64_t http_get(const char *rest) {
    Buf request = {0};
    put(&request, "{\"method\":\"GET\",\"url\":\"http://");
    put(&request, rest);
    put(&request, "\",\"headers\":{\"X-Agfswasm\":\"1\"}}");
    uint64_t answer = host_http_request(request.data);
    if (!answer) return 0;
    /* The response JSON is not NUL-terminated: copy it as it came. */
    return answer;
}

static uint64_t do_fs_read(const char *path, int64_t offset, int64_t size) {
    note_shared(path);
    read_calls++;
    Buf b = {0};
    if (str_eq(path, "/config")) put(&b, config);
    else if (str_eq(path, "/calls")) put_u64(&b, read_calls);
    else if (str_eq(path, "/shared")) put_u64(&b, shared_args);
    else if (str_eq(path, "/frees")) {
        put_u64(&b, sized_frees);
        put(&b, " ");
        put_u64(&b, unsized_frees);
    } else if (starts_with(path, "/http/")) return http_get(path + 6);
    else if (starts_with(path, "/host/")) return host_fs_read(path + 5, offset, size);
    else {
        File *f = find(path);
        if (!f) return 0; /* "read failed" */
        int64_t start = offset < 0 ? 0 : offset > f->size ? f->size : offset;
        int64_t end = size < 0 || start + size > f->size ? f->size : start + size;
        char *copy = dup_n((const char *)f->data + start, (size_t)(end - start));
        return pfs_pack(copy, (uint32_t)(end - start));
    }
    if (!b.data) put(&b, "");
    return pfs_pack(b.data, (uint32_t)b.len);
}

static uint64_t do_fs_write(const char *path, const char *data, uint32_t len, int64_t offset,
                            uint32_t flags) {
    note_shared(path);
    note_shared(data);
    if (starts_with(path, "/host/")) {
        /* AGFS's host_fs_write answers the byte count (the original's: a packed response). */
        uint64_t written = host_fs_write(path + 5, data, len);
        return written == len ? ok_count(len) : fail("host write failed");
    }
    File *f = find(path);
    const char *error = NULL;
    if (f && (flags & 4)) return fail("file already exists");
    if (!f) {
        if (!(flags & 2)) return fail("file not found");
        f = make(path, 0644, &error);
        if (!f) return fail(error);
    }
    if (flags & 8) f->size = 0;
    uint64_t at = (flags & 1) ? f->size : offset < 0 ? 0 : (uint64_t)offset;
    error = write_at(f, data, len, at);
    return error ? fail(error) : ok_count(len);
}

static uint64_t do_fs_stat(const char *path) {
    note_shared(path);
    Buf b = {0};
    File *f = find(path);
    if (str_eq(path, "/")) info_json(&b, "", 0, 0755, 1);
    else if (f) info_json(&b, f->name + 1, f->size, f->mode, 0);
    else {
        for (int i = 0; i < 4; i++)
            if (str_eq(path, diagnostics[i])) info_json(&b, diagnostics[i] + 1, 0, 0444, 0);
        if (!b.data) return fail("file not found");
    }
    return pfs_pack(b.data, 0);
}

static uint64_t do_fs_readdir(const char *path) {
    if (!str_eq(path, "/")) return fail("not a directory");
    Buf b = {0};
    put(&b, "[");
    int first = 1;
    for (int i = 0; i < MAX_FILES; i++) {
        if (!files[i].name[0]) continue;
        if (!first) put(&b, ",");
        first = 0;
        info_json(&b, files[i].name + 1, files[i].size, files[i].mode, 0);
    }
    put(&b, "]");
    return pfs_pack(b.data, 0);
}

static const char *do_fs_create(const char *path) {
    note_shared(path);
    if (find(path)) return dup("file already exists");
    const char *error = NULL;
    return make(path, 0644, &error) ? NULL : dup(error);
}

static const char *do_fs_remove(const char *path) {
    File *f = find(path);
    if (!f) return dup("file not found");
    f->name[0] = 0;
    return NULL;
}

PFS_EXPORT(fs_read) uint64_t fs_read(const char *path, int64_t offset, int64_t size) {
    ENTER();
    return LEAVE(do_fs_read(path, offset, size));
}

PFS_EXPORT(fs_write) uint64_t fs_write(const char *path, const char *data, uint32_t len,
                                       int64_t offset, uint32_t flags) {
    ENTER();
    return LEAVE(do_fs_write(path, data, len, offset, flags));
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
    (void)path;
    (void)perm;
    ENTER();
    return LEAVE(dup("permission denied: agfswasm has no directories"));
}

PFS_EXPORT(fs_remove) const char *fs_remove(const char *path) {
    ENTER();
    return LEAVE(do_fs_remove(path));
}

/* --- handles ----------------------------------------------------------------------------------- */

#define MAX_HANDLES 8
/* Open flags (AGFS's server encoding). */
#define O_ACCESS 3
#define O_WRONLY_ 1
#define O_APPEND_ 8
#define O_CREATE_ 16
#define O_EXCL_ 32
#define O_TRUNC_ 64

typedef struct {
    File *file; /* NULL = free slot */
    uint32_t flags;
    uint64_t position;
} Handle;

static Handle handles[MAX_HANDLES];

static Handle *handle(int64_t id) {
    if (id < 1 || id > MAX_HANDLES || !handles[id - 1].file) return NULL;
    return &handles[id - 1];
}

static uint64_t do_handle_open(const char *path, uint32_t flags, uint32_t mode) {
    note_shared(path);
    File *f = find(path);
    const char *error = NULL;
    if (f && (flags & O_CREATE_) && (flags & O_EXCL_)) return fail("file already exists");
    if (!f) {
        if (!(flags & O_CREATE_)) return fail("file not found");
        f = make(path, mode, &error);
        if (!f) return fail(error);
    }
    if ((flags & O_TRUNC_) && (flags & O_ACCESS)) f->size = 0;
    for (int i = 0; i < MAX_HANDLES; i++)
        if (!handles[i].file) {
            handles[i].file = f;
            handles[i].flags = flags;
            handles[i].position = 0;
            return (uint64_t)(i + 1); /* the SDKs' layout: the id low */
        }
    return fail("too many open handles");
}

static uint64_t do_read(Handle *h, char *buf, uint32_t len, uint64_t at, int advance) {
    if ((h->flags & O_ACCESS) == O_WRONLY_) return fail("handle not opened for reading");
    File *f = h->file;
    uint64_t start = at > f->size ? f->size : at;
    uint64_t n = f->size - start < len ? f->size - start : len;
    memcpy(buf, f->data + start, n);
    if (advance) h->position = start + n;
    return ok_count(n);
}

static uint64_t do_write(Handle *h, const char *data, uint32_t len, uint64_t at, int advance) {
    if ((h->flags & O_ACCESS) == 0) return fail("handle not opened for writing");
    if (h->flags & O_APPEND_) at = h->file->size;
    const char *error = write_at(h->file, data, len, at);
    if (error) return fail(error);
    if (advance) h->position = at + len;
    return ok_count(len);
}

PFS_EXPORT(handle_open) uint64_t handle_open(const char *path, uint32_t flags, uint32_t mode) {
    ENTER();
    return LEAVE(do_handle_open(path, flags, mode));
}

PFS_EXPORT(handle_read) uint64_t handle_read(int64_t id, char *buf, uint32_t len) {
    ENTER();
    note_shared(buf);
    Handle *h = handle(id);
    return LEAVE(h ? do_read(h, buf, len, h->position, 1) : fail("bad handle"));
}

PFS_EXPORT(handle_read_at) uint64_t handle_read_at(int64_t id, char *buf, uint32_t len,
                                                   int64_t offset) {
    ENTER();
    Handle *h = handle(id);
    return LEAVE(!h ? fail("bad handle") : offset < 0 ? fail("negative offset")
                                                     : do_read(h, buf, len, (uint64_t)offset, 0));
}

PFS_EXPORT(handle_write) uint64_t handle_write(int64_t id, const char *data, uint32_t len) {
    ENTER();
    note_shared(data);
    Handle *h = handle(id);
    return LEAVE(h ? do_write(h, data, len, h->position, 1) : fail("bad handle"));
}

PFS_EXPORT(handle_write_at) uint64_t handle_write_at(int64_t id, const char *data, uint32_t len,
                                                     int64_t offset) {
    ENTER();
    Handle *h = handle(id);
    return LEAVE(!h ? fail("bad handle") : offset < 0 ? fail("negative offset")
                                                     : do_write(h, data, len, (uint64_t)offset, 0));
}

PFS_EXPORT(handle_seek) uint64_t handle_seek(int64_t id, int64_t offset, int32_t whence) {
    ENTER();
    Handle *h = handle(id);
    if (!h) return LEAVE(fail("bad handle"));
    int64_t base = whence == 0 ? 0 : whence == 1 ? (int64_t)h->position
                                 : whence == 2 ? (int64_t)h->file->size : -1;
    if (base < 0) return LEAVE(fail("invalid whence"));
    if (base + offset < 0) return LEAVE(fail("negative position"));
    h->position = (uint64_t)(base + offset);
    return LEAVE(ok_count(h->position));
}

PFS_EXPORT(handle_sync) const char *handle_sync(int64_t id) {
    ENTER();
    return LEAVE(handle(id) ? NULL : dup("bad handle"));
}

PFS_EXPORT(handle_stat) uint64_t handle_stat(int64_t id) {
    ENTER();
    Handle *h = handle(id);
    if (!h) return LEAVE(fail("bad handle"));
    Buf b = {0};
    info_json(&b, h->file->name + 1, h->file->size, h->file->mode, 0);
    return LEAVE(pfs_pack(b.data, 0));
}

PFS_EXPORT(handle_close) const char *handle_close(int64_t id) {
    ENTER();
    Handle *h = handle(id);
    if (!h) return LEAVE(dup("bad handle"));
    h->file = NULL;
    return LEAVE((const char *)NULL);
}
