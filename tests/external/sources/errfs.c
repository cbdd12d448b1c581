/* errfs: a native test plugin whose every operation fails, to check the host's error paths.
 * Config "fail": "validate" makes PluginValidate fail; "init", "init-words" (no errno) and
 * "init-invalid", "init-denied", "init-busy", "init-missing" (with an errno, through the
 * PluginLastErrno extension) make PluginInitialize fail.
 * Built a second time as libclash.so with PLUGIN_NAME "memfs", to collide with the built-in, and
 * with WITH_WRITE_EX (the FSWriteEx extension) as liberrfs-ex.so. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pfs_plugin.h"

#ifndef PLUGIN_NAME
#define PLUGIN_NAME "errfs"
#endif

void *PluginNew(void) { return malloc(1); }
void PluginFree(void *plugin) { free(plugin); }
const char *PluginName(void *plugin) { (void)plugin; return PLUGIN_NAME; }

const char *PluginValidate(void *plugin, const char *config_json) {
    (void)plugin;
    return strstr(config_json, "\"fail\":\"validate\"") ? "errfs refuses this config" : NULL;
}

/* The errno of the last failed PluginInitialize (the PFS extension PluginLastErrno). */
static int last_errno;

const char *PluginInitialize(void *plugin, const char *config_json) {
    (void)plugin;
    last_errno = 0;
    /* No errno: the words "invalid" or "denied" in the text do not type it. */
    if (strstr(config_json, "\"fail\":\"init\"")) return "errfs cannot start: backend unreachable";
    if (strstr(config_json, "\"fail\":\"init-words\"")) return "invalid errfs setting is required";
    if (strstr(config_json, "\"fail\":\"init-invalid\"")) {
        last_errno = EINVAL;
        return "errfs setting out of range";
    }
    if (strstr(config_json, "\"fail\":\"init-denied\"")) {
        last_errno = EACCES;
        return "errfs may not open its store";
    }
    if (strstr(config_json, "\"fail\":\"init-busy\"")) {
        last_errno = EAGAIN;
        return "errfs store is busy";
    }
    if (strstr(config_json, "\"fail\":\"init-missing\"")) {
        last_errno = ENOENT;
        return "errfs store does not exist";
    }
    return NULL;
}

int PluginLastErrno(void *plugin) { (void)plugin; return last_errno; }

const char *PluginShutdown(void *plugin) { (void)plugin; return NULL; }

const char *FSRead(void *plugin, const char *path, int64_t offset, int64_t size, int *out_len) {
    (void)plugin; (void)offset; (void)size;
    *out_len = -1;
    return strcmp(path, "/silent") == 0 ? NULL : "errfs read error";
}

const char *FSWrite(void *plugin, const char *path, const char *data, int data_len) {
    (void)plugin; (void)path; (void)data; (void)data_len;
    return "errfs write error";
}

#ifdef WITH_WRITE_EX
/* The PFS extension: a write that can fail. */
const char *FSWriteEx(void *plugin, const char *path, const char *data, int64_t data_len,
                      int *out_is_error) {
    (void)plugin; (void)data; (void)data_len;
    if (strcmp(path, "/ok") == 0) return "written";
    *out_is_error = 1;
    return "errfs write error";
}
#endif

FileInfoArray *FSReadDir(void *plugin, const char *path, int *out_count) {
    (void)plugin; (void)path;
    *out_count = -1;
    return NULL;
}

FileInfoC *FSStat(void *plugin, const char *path) { (void)plugin; (void)path; return NULL; }
const char *FSCreate(void *plugin, const char *path) { (void)plugin; (void)path; return "errfs create error"; }
const char *FSMkdir(void *plugin, const char *path, uint32_t perm) { (void)plugin; (void)path; (void)perm; return "errfs mkdir error"; }
const char *FSRemove(void *plugin, const char *path) { (void)plugin; (void)path; return "errfs remove error"; }
const char *FSRemoveAll(void *plugin, const char *path) { (void)plugin; (void)path; return "errfs removeall error"; }
const char *FSRename(void *plugin, const char *o, const char *n) { (void)plugin; (void)o; (void)n; return "errfs rename error"; }
const char *FSChmod(void *plugin, const char *path, uint32_t mode) { (void)plugin; (void)path; (void)mode; return "errfs chmod error"; }
