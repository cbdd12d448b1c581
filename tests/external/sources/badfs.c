/* badfs: a native test plugin whose results are wrong in the ways a C plugin gets them wrong
 * (pointers to nothing, lengths past the buffer, strings without their NUL, absurd counts), to
 * show the server answers errors and stays up. The path picks the fault; other paths are fine. */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pfs_plugin.h"

#define BAD_POINTER ((void *)16) /* in the never-mapped first page */

/* A page of 'x' followed by an inaccessible page: a string without an end. */
static char *no_nul(void) {
    static char *page;
    if (!page) {
        long size = sysconf(_SC_PAGESIZE);
        page = mmap(NULL, 2 * size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        memset(page, 'x', size);
        mprotect(page + size, size, PROT_NONE);
    }
    return page;
}

static int is(const char *path, const char *name) { return strcmp(path, name) == 0; }

void *PluginNew(void) { static int instance; return &instance; }
const char *PluginName(void *plugin) { (void)plugin; return "badfs"; }

const char *FSRead(void *plugin, const char *path, int64_t offset, int64_t size, int *out_len) {
    (void)plugin; (void)offset; (void)size;
    *out_len = 10;
    if (is(path, "/bad-pointer")) return BAD_POINTER;
    if (is(path, "/past-the-end")) {
        *out_len = (int)sysconf(_SC_PAGESIZE) + 100;
        return no_nul();
    }
    if (is(path, "/huge-length")) {
        *out_len = 0x7fffffff;
        return "tiny";
    }
    if (is(path, "/null-with-length")) return NULL; /* the original ABI: an empty read */
    if (is(path, "/error-without-nul")) {
        *out_len = -1;
        return no_nul();
    }
    return "0123456789";
}

const char *FSWrite(void *plugin, const char *path, const char *data, int data_len) {
    (void)plugin; (void)data; (void)data_len;
    if (is(path, "/bad-pointer")) return BAD_POINTER;
    if (is(path, "/no-nul")) return no_nul();
    return "fine";
}

static FileInfoC good = {"good", 10, 0644, 0, 0, "badfs", "file", "{}"};

FileInfoC *FSStat(void *plugin, const char *path) {
    static FileInfoC bad_name = {BAD_POINTER, 1, 0644, 0, 0, NULL, NULL, NULL};
    static FileInfoC endless_meta = {"m", 1, 0644, 0, 0, NULL, NULL, NULL};
    (void)plugin;
    if (is(path, "/bad-pointer")) return BAD_POINTER;
    if (is(path, "/bad-name")) return &bad_name;
    if (is(path, "/no-nul-meta")) {
        endless_meta.MetaContent = no_nul();
        return &endless_meta;
    }
    return &good;
}

FileInfoArray *FSReadDir(void *plugin, const char *path, int *out_count) {
    static FileInfoArray one = {&good, 1};
    static FileInfoArray bad_items = {BAD_POINTER, 3};
    (void)plugin;
    *out_count = 1;
    if (is(path, "/absurd-count")) {
        *out_count = 0x7fffffff;
        return &one;
    }
    if (is(path, "/bad-items")) return &bad_items;
    if (is(path, "/bad-array")) return BAD_POINTER;
    return &one;
}

const char *FSCreate(void *plugin, const char *path) {
    (void)plugin;
    if (is(path, "/bad-pointer")) return BAD_POINTER;
    if (is(path, "/no-nul")) return no_nul();
    return NULL;
}
