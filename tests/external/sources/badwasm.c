/* badwasm: a WASM test plugin that misbehaves on request.
 *   read /loop  → spins forever         read /trap → executes unreachable
 *   read /grow  → allocates until memory runs out, then traps (like an allocator's abort)
 *   read /ok    → "ok\n"
 *   mount config {"fail":"init"} → plugin_initialize fails with EINVAL (plugin_last_errno),
 *   {"fail":"init-plain"} → fails without an errno */
#define PFS_PLUGIN_WASM 1
#include <stddef.h>
#include <stdint.h>

#include "pfs_plugin.h"

extern unsigned char __heap_base;
static uintptr_t heap_next = (uintptr_t)&__heap_base;

PFS_EXPORT(malloc) void *malloc(size_t size) {
    uintptr_t start = (heap_next + 7) & ~(uintptr_t)7;
    uintptr_t end = __builtin_wasm_memory_size(0) * 65536;
    if (size == 0) size = 1;
    if (start + size > end) {
        size_t pages = (start + size - end + 65535) / 65536;
        if (__builtin_wasm_memory_grow(0, pages) == (size_t)-1) return NULL;
    }
    heap_next = start + size;
    return (void *)start;
}

static int eq(const char *a, const char *b) {
    while (*a && *a == *b) a++, b++;
    return *a == *b;
}

PFS_EXPORT(plugin_new) int32_t plugin_new(void) { return 1; }
PFS_EXPORT(plugin_name) const char *plugin_name(void) { return "badwasm"; }

static int contains(const char *text, const char *part) {
    for (; *text; text++) {
        const char *a = text, *b = part;
        while (*b && *a == *b) a++, b++;
        if (!*b) return 1;
    }
    return 0;
}

static int32_t last_errno;

PFS_EXPORT(plugin_initialize) const char *plugin_initialize(const char *config) {
    last_errno = 0;
    if (contains(config, "\"fail\":\"init\"")) {
        last_errno = PFS_EINVAL;
        return "badwasm: setting out of range";
    }
    if (contains(config, "\"fail\":\"init-plain\"")) return "badwasm: invalid store";
    return 0;
}

/* The PFS extension typing a failed plugin_initialize. */
PFS_EXPORT(plugin_last_errno) int32_t plugin_last_errno(void) { return last_errno; }

static volatile int spin = 1;

PFS_EXPORT(fs_read) uint64_t fs_read(const char *path, int64_t offset, int64_t size) {
    (void)offset; (void)size;
    if (eq(path, "/loop")) {
        uint64_t n = 0;
        while (spin) n++;
        return n;
    }
    if (eq(path, "/trap")) __builtin_trap();
    if (eq(path, "/grow")) {
        for (;;) {
            volatile char *block = malloc(1 << 20);
            if (!block) __builtin_trap();
            block[0] = 1;
        }
    }
    if (eq(path, "/ok")) return pfs_pack("ok\n", 3);
    return 0;
}

/* The PFS extension explaining a failed fs_read. */
PFS_EXPORT(plugin_last_error) const char *plugin_last_error(void) { return "badwasm: no such file"; }

PFS_EXPORT(fs_stat) uint64_t fs_stat(const char *path) {
    if (eq(path, "/")) return pfs_pack("{\"Name\":\"\",\"IsDir\":true,\"Mode\":493}", 0);
    return pfs_pack(NULL, (uint32_t)(uintptr_t) "file not found");
}
