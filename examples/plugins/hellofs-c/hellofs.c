/* hellofs-c: a read-only file system with one file, /hello, as a native PFS plugin.
 * Build: make  (→ libhellofs-c.so). ABI: pfs_plugin.h (shipped in src/pfs/external/). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pfs_plugin.h"

static const char HELLO[] = "Hello from C dynamic library!\n";
static const char READ_ONLY[] = "operation not supported: read-only filesystem";
static const char README[] =
    "# HelloFS C Plugin\n\n"
    "A minimal file system written in C and loaded as a dynamic library.\n\n"
    "## Features\n\n"
    "- A single read-only file: `/hello`\n"
    "- Demonstrates the PFS C plugin interface\n";

typedef struct {
    int unused;
} HelloFS;

/* Results are returned from static storage: the server copies them before the call returns. */
static FileInfoC stat_result;
static FileInfoC readdir_items[1];
static FileInfoArray readdir_result;

void *PluginNew(void) { return calloc(1, sizeof(HelloFS)); }

void PluginFree(void *plugin) { free(plugin); }

const char *PluginName(void *plugin) {
    (void)plugin;
    return "hellofs-c";
}

const char *PluginGetReadme(void *plugin) {
    (void)plugin;
    return README;
}

const char *PluginValidate(void *plugin, const char *config_json) {
    (void)plugin;
    (void)config_json;
    return NULL;
}

const char *PluginInitialize(void *plugin, const char *config_json) {
    (void)config_json;
    return plugin ? NULL : "plugin is null";
}

const char *PluginShutdown(void *plugin) {
    (void)plugin;
    return NULL;
}

static void hello_info(FileInfoC *info) {
    info->Name = "hello";
    info->Size = (int64_t)(sizeof(HELLO) - 1);
    info->Mode = 0644;
    info->ModTime = (int64_t)time(NULL);
    info->IsDir = 0;
    info->MetaName = "hellofs-c";
    info->MetaType = "text";
    info->MetaContent = "{\"language\":\"c\"}";
}

const char *FSRead(void *plugin, const char *path, int64_t offset, int64_t size, int *out_len) {
    (void)plugin;
    if (strcmp(path, "/hello") != 0) {
        *out_len = -1;
        return "file not found";
    }
    int64_t total = (int64_t)(sizeof(HELLO) - 1);
    if (offset < 0) offset = 0;
    if (offset >= total) {
        *out_len = 0;
        return "";
    }
    int64_t end = (size <= 0 || offset + size > total) ? total : offset + size;
    *out_len = (int)(end - offset);
    return HELLO + offset;
}

FileInfoC *FSStat(void *plugin, const char *path) {
    (void)plugin;
    if (strcmp(path, "/") == 0) {
        stat_result.Name = "";
        stat_result.Size = 0;
        stat_result.Mode = 0755;
        stat_result.ModTime = (int64_t)time(NULL);
        stat_result.IsDir = 1;
        stat_result.MetaName = "hellofs-c";
        stat_result.MetaType = "directory";
        stat_result.MetaContent = "{}";
        return &stat_result;
    }
    if (strcmp(path, "/hello") == 0) {
        hello_info(&stat_result);
        return &stat_result;
    }
    return NULL;
}

FileInfoArray *FSReadDir(void *plugin, const char *path, int *out_count) {
    (void)plugin;
    if (strcmp(path, "/") != 0) {
        *out_count = -1;
        return NULL;
    }
    hello_info(&readdir_items[0]);
    readdir_result.Items = readdir_items;
    readdir_result.Count = 1;
    *out_count = 1;
    return &readdir_result;
}

const char *FSWrite(void *plugin, const char *path, const char *data, int data_len) {
    (void)plugin; (void)path; (void)data; (void)data_len;
    return READ_ONLY;
}

const char *FSCreate(void *plugin, const char *path) {
    (void)plugin; (void)path;
    return READ_ONLY;
}

const char *FSMkdir(void *plugin, const char *path, uint32_t perm) {
    (void)plugin; (void)path; (void)perm;
    return READ_ONLY;
}

const char *FSRemove(void *plugin, const char *path) {
    (void)plugin; (void)path;
    return READ_ONLY;
}

const char *FSRemoveAll(void *plugin, const char *path) {
    (void)plugin; (void)path;
    return READ_ONLY;
}

const char *FSRename(void *plugin, const char *old_path, const char *new_path) {
    (void)plugin; (void)old_path; (void)new_path;
    return READ_ONLY;
}

const char *FSChmod(void *plugin, const char *path, uint32_t mode) {
    (void)plugin; (void)path; (void)mode;
    return READ_ONLY;
}
