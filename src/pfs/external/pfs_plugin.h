/*
 * pfs_plugin.h — the ABI between the PFS server and external plugins.
 *
 * Two kinds of external plugin share this header:
 *
 *   NATIVE (.so / .dylib / .dll, loaded with dlopen, called through ctypes)
 *     Export PluginNew (required) and any of the optional symbols below.
 *     Every pointer a plugin returns stays owned by the plugin: the server copies what it needs
 *     before the call returns and never frees anything, so string literals are fine and dynamic
 *     results must be freed by the plugin itself (e.g. on its next call).
 *     "Err-string" results: NULL or "" = success, otherwise the error text (HTTP 500).
 *     Calls are serialised per loaded instance: a plugin needs no locking of its own.
 *     The plugin runs inside the server process (no isolation); the server checks that every
 *     pointer and length it returns is readable memory (a bad one answers 500, not a crash).
 *
 *   WASM (.wasm, run in wasmtime with a per-call deadline and a memory cap)
 *     Build with PFS_PLUGIN_WASM defined (clang --target=wasm32 ...); see the second half.
 *
 * The server detects the kind by magic number (ELF / Mach-O / PE / "\0asm") before the extension.
 */
#ifndef PFS_PLUGIN_H
#define PFS_PLUGIN_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef PFS_PLUGIN_WASM

/* One directory entry or stat result: 64 bytes on LP64 (x86_64, arm64). */
typedef struct {
    const char *Name;        /* base name; "" for the plugin root */
    int64_t Size;            /* bytes */
    uint32_t Mode;           /* permission bits, e.g. 0644 */
    int64_t ModTime;         /* Unix seconds */
    int32_t IsDir;           /* non-zero = directory */
    const char *MetaName;    /* meta.Name (NULL = "") */
    const char *MetaType;    /* meta.Type (NULL = "") */
    const char *MetaContent; /* JSON object of string values, e.g. {"language":"c"}; NULL = {} */
} FileInfoC;

typedef struct {
    FileInfoC *Items; /* Count contiguous records */
    int Count;        /* informational; the server reads the out_count parameter */
} FileInfoArray;

/* --- lifecycle ------------------------------------------------------------------------------- */

/* Required. Called once per load; the result is passed to every other function. */
void *PluginNew(void);
/* Called once when the plugin is unloaded (or the server stops), after PluginShutdown. */
void PluginFree(void *plugin);
/* The fstype name (a missing or empty name falls back to the library's file name). */
const char *PluginName(void *plugin);
const char *PluginGetReadme(void *plugin);
/* config_json: compact JSON object, keys sorted, including "mount_path". Err-strings. */
const char *PluginValidate(void *plugin, const char *config_json);
const char *PluginInitialize(void *plugin, const char *config_json); /* once per mount */
const char *PluginShutdown(void *plugin); /* after the last mount goes, and at unload */
/* PFS extension (optional): the errno (<errno.h>) of the last failed PluginInitialize, which
 * types it: EINVAL 400, EACCES 403, ENOENT 404, EAGAIN 503, ETIMEDOUT 504, ...; 0 (or no such
 * export) is a 500. A config mistake is best refused by PluginValidate (always 400). */
int PluginLastErrno(void *plugin);

/* --- file system (paths are mount-relative: "/", "/hello", ...) ----------------------------- */

const char *FSCreate(void *plugin, const char *path);
const char *FSMkdir(void *plugin, const char *path, uint32_t perm);
const char *FSRemove(void *plugin, const char *path);
const char *FSRemoveAll(void *plugin, const char *path);
/* Returns the data and sets *out_len to its length (binary-safe). On error set *out_len = -1 and
 * return the error message (or NULL for "read failed"). size < 0 means "to the end". */
const char *FSRead(void *plugin, const char *path, int64_t offset, int64_t size, int *out_len);
#ifndef PFS_AGFS_ABI
/* Returns the write's response message (NULL = ""); there is no error channel. data is not
 * NUL-terminated and is NULL for an empty body. Only whole files are written (no offsets).
 * The server calls FSWrite with AGFS's two extra arguments (ignored here) and reads a result
 * larger than data_len as this message; load with abi "pfs" to skip telling the ABIs apart. */
const char *FSWrite(void *plugin, const char *path, const char *data, int data_len);
#else
/* AGFS's ABI v2 (agfs_plugin.h defines PFS_AGFS_ABI): the same symbols, but FSWrite takes an
 * offset and flags and returns the number of bytes written. offset -1 = no position (plain
 * replacements and appends); flags are the PFS_WRITE_* bits (a plain PUT: CREATE | TRUNCATE).
 * Return < 0 for an error: -1 is "write failed" (HTTP 500); -errno of a kind the server knows
 * (-ENOENT 404, -EEXIST 409, -EISDIR/-ENOTDIR/-EINVAL 400, -EACCES/-EROFS 403, -ENOTSUP 501,
 * -EFBIG 413, -ENOSPC 507) is that error. data is NULL for an empty body. Offset and append
 * writes reach the plugin once the server knows its ABI: from its first byte count, or at once
 * when it is loaded with abi "agfs". */
#define PFS_WRITE_APPEND 1u
#define PFS_WRITE_CREATE 2u
#define PFS_WRITE_EXCLUSIVE 4u
#define PFS_WRITE_TRUNCATE 8u
int64_t FSWrite(void *plugin, const char *path, const char *data, int data_len, int64_t offset,
                uint32_t flags);
#endif
/* PFS extension (optional; used instead of FSWrite when exported, unless the plugin is loaded
 * with abi "agfs"): a 64-bit length and an error flag. Set *out_is_error non-zero to make the
 * returned text an error (HTTP 500). */
const char *FSWriteEx(void *plugin, const char *path, const char *data, int64_t data_len,
                      int *out_is_error);
/* Sets *out_count; NULL or a count <= 0 is an empty listing. */
FileInfoArray *FSReadDir(void *plugin, const char *path, int *out_count);
/* NULL = "stat failed". */
FileInfoC *FSStat(void *plugin, const char *path);
const char *FSRename(void *plugin, const char *old_path, const char *new_path);
const char *FSChmod(void *plugin, const char *path, uint32_t mode);

#else /* PFS_PLUGIN_WASM */

/*
 * WASM plugins. All pointers are 32-bit offsets into the exported linear memory "memory".
 * Strings are NUL-terminated UTF-8. The host allocates every argument it passes with the guest's
 * exported malloc (never freeing it: the guest may free it after use) and copies every result
 * before the call returns.
 *
 * Packed results (uint64): low 32 bits = pointer, high 32 bits = length (read/write) or error
 * pointer (stat/readdir). FileInfo JSON: {"Name","Size","Mode","ModTime","IsDir","Meta":{"Name",
 * "Type","Content":{...}}}, keys matched case-insensitively; ModTime is RFC 3339 or Unix seconds.
 *
 * Exports (PFS_EXPORT(name) on the definition):
 *   memory, malloc(size) -> ptr                       required
 *   plugin_new() -> i32                               required, called once per load
 *   plugin_name() -> str, plugin_get_readme() -> str
 *   plugin_validate(config) / plugin_initialize(config) / plugin_shutdown() -> err-str or 0
 *   fs_read(path, i64 offset, i64 size) -> packed(ptr, len)     ptr 0 = "read failed";
 *                                                               an empty read needs a non-0 ptr
 *   fs_write(path, data, len) -> packed(ptr, len)               the response; ptr 0 = error
 *   fs_stat(path) -> packed(json, err), fs_readdir(path) -> packed(json array, err)
 *   fs_create(path), fs_mkdir(path, perm), fs_remove(path), fs_remove_all(path),
 *   fs_rename(old, new), fs_chmod(path, mode) -> err-str or 0
 *   _initialize() is called once at load when exported (reactor modules).
 *   plugin_last_error() -> str                    PFS extension: consulted when fs_read/fs_write
 *                                                 return 0, its text becomes the error message
 *   plugin_last_errno() -> i32                    PFS extension: the errno typing a failed
 *                                                 plugin_initialize (as PluginLastErrno above)
 *
 * Sandbox: each call runs under a deadline (external_plugins.wasm.call_timeout) and the module's
 * memory is capped (external_plugins.wasm.memory_limit); a trap is reported as a 500 and the
 * module stays loaded. No WASI file system, no network.
 *
 * Host functions (import module "env") reach the PFS namespace, but only the path prefixes listed
 * in the mount's "host_paths" config key; anything else answers "permission denied".
 */

#define PFS_EXPORT(name) __attribute__((export_name(#name)))

/* For plugin_last_errno() in freestanding builds: errno as the server (Linux) numbers it. */
#define PFS_ENOENT 2
#define PFS_EAGAIN 11
#define PFS_EACCES 13
#define PFS_EEXIST 17
#define PFS_EINVAL 22
#define PFS_ENOSPC 28
#define PFS_ENOTSUP 95
#define PFS_ETIMEDOUT 110
#define PFS_IMPORT(name) __attribute__((import_module("env"), import_name(#name)))

PFS_IMPORT(host_fs_read) uint64_t host_fs_read(const char *path, int64_t offset, int64_t size);
PFS_IMPORT(host_fs_write) uint64_t host_fs_write(const char *path, const char *data, uint32_t len);
PFS_IMPORT(host_fs_stat) uint64_t host_fs_stat(const char *path);       /* json | err << 32 */
PFS_IMPORT(host_fs_readdir) uint64_t host_fs_readdir(const char *path); /* json | err << 32 */
PFS_IMPORT(host_fs_create) uint32_t host_fs_create(const char *path);   /* 0 or err-str */
PFS_IMPORT(host_fs_mkdir) uint32_t host_fs_mkdir(const char *path, uint32_t perm);
PFS_IMPORT(host_fs_remove) uint32_t host_fs_remove(const char *path);
PFS_IMPORT(host_fs_remove_all) uint32_t host_fs_remove_all(const char *path);
PFS_IMPORT(host_fs_rename) uint32_t host_fs_rename(const char *old_path, const char *new_path);
PFS_IMPORT(host_fs_chmod) uint32_t host_fs_chmod(const char *path, uint32_t mode);

static inline uint64_t pfs_pack(const void *ptr, uint32_t len_or_err) {
    return (uint64_t)(uintptr_t)ptr | ((uint64_t)len_or_err << 32);
}

#endif /* PFS_PLUGIN_WASM */

#ifdef __cplusplus
}
#endif

#endif /* PFS_PLUGIN_H */
