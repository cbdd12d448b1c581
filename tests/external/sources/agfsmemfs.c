/* agfsmemfs: a native plugin with AGFS's ABI v2, shaped like AGFS's hellofs-c example but with a
 * small in-memory store, so writes (with offsets and flags) are observable: files and directories
 * in a flat table of full paths. FSWrite returns the bytes written or -errno. Every pointer it
 * returns points into the instance and stays valid until its next call (the server serialises
 * calls and copies each result before the call returns). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agfs_plugin.h"

#define MAX_PATH 1024
#define MAX_FILE (64 << 20)

typedef struct {
    char *path; /* full mount-relative path, "/a/b" */
    int is_dir;
    uint32_t mode;
    int64_t mtime;
    char *data;
    size_t len, cap;
} Node;

typedef struct {
    Node *nodes;
    size_t count, cap;
    FileInfoC info;        /* FSStat's answer */
    FileInfoC *listing;    /* FSReadDir's records */
    size_t listing_cap;
    FileInfoArray array;
} Store;

static const char *README =
    "# agfsmemfs\n\nAn in-memory file system written against AGFS's native ABI v2 (FSWrite with "
    "offset and flags).\n";

void *PluginNew(void) { return calloc(1, sizeof(Store)); }

void PluginFree(void *plugin) {
    Store *s = plugin;
    if (!s) return;
    for (size_t i = 0; i < s->count; i++) {
        free(s->nodes[i].path);
        free(s->nodes[i].data);
    }
    free(s->nodes);
    free(s->listing);
    free(s);
}

const char *PluginName(void *plugin) { (void)plugin; return "agfsmemfs"; }
const char *PluginGetReadme(void *plugin) { (void)plugin; return README; }
const char *PluginValidate(void *plugin, const char *config) { (void)plugin; (void)config; return NULL; }
const char *PluginInitialize(void *plugin, const char *config) {
    (void)config;
    return plugin ? NULL : "plugin is null";
}
const char *PluginShutdown(void *plugin) { (void)plugin; return NULL; }

/* --- the table ------------------------------------------------------------------------------ */

static int is_root(const char *path) { return strcmp(path, "/") == 0; }

static Node *find(Store *s, const char *path) {
    for (size_t i = 0; i < s->count; i++)
        if (strcmp(s->nodes[i].path, path) == 0) return &s->nodes[i];
    return NULL;
}

/* Whether the parent of path is the root or an existing directory. */
static int parent_is_dir(Store *s, const char *path) {
    const char *slash = strrchr(path, '/');
    if (slash == path) return 1;
    size_t n = (size_t)(slash - path);
    for (size_t i = 0; i < s->count; i++)
        if (s->nodes[i].is_dir && strlen(s->nodes[i].path) == n &&
            strncmp(s->nodes[i].path, path, n) == 0)
            return 1;
    return 0;
}

/* Whether node path lies below dir (dir "/" holds everything). */
static int below(const char *path, const char *dir) {
    size_t n = strlen(dir);
    if (is_root(dir)) return !is_root(path);
    return strncmp(path, dir, n) == 0 && path[n] == '/';
}

static Node *add(Store *s, const char *path, int is_dir, uint32_t mode) {
    if (s->count == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        Node *grown = realloc(s->nodes, cap * sizeof *grown);
        if (!grown) return NULL;
        s->nodes = grown;
        s->cap = cap;
    }
    char *copy = strdup(path);
    if (!copy) return NULL;
    Node *node = &s->nodes[s->count++];
    memset(node, 0, sizeof *node);
    node->path = copy;
    node->is_dir = is_dir;
    node->mode = mode;
    node->mtime = (int64_t)time(NULL);
    return node;
}

static void drop(Store *s, Node *node) {
    free(node->path);
    free(node->data);
    *node = s->nodes[--s->count];
}

/* Creating path: NULL when allowed, else the error text. */
static const char *creatable(Store *s, const char *path) {
    if (strlen(path) >= MAX_PATH) return "file name too long";
    if (is_root(path) || find(s, path)) return "file already exists";
    if (!parent_is_dir(s, path)) return "parent directory not found";
    return NULL;
}

/* --- file system ---------------------------------------------------------------------------- */

const char *FSCreate(void *plugin, const char *path) {
    Store *s = plugin;
    const char *error = creatable(s, path);
    if (error) return error;
    return add(s, path, 0, 0644) ? NULL : "out of memory";
}

const char *FSMkdir(void *plugin, const char *path, uint32_t perm) {
    Store *s = plugin;
    const char *error = creatable(s, path);
    if (error) return error;
    return add(s, path, 1, perm) ? NULL : "out of memory";
}

static int has_children(Store *s, const char *dir) {
    for (size_t i = 0; i < s->count; i++)
        if (below(s->nodes[i].path, dir)) return 1;
    return 0;
}

const char *FSRemove(void *plugin, const char *path) {
    Store *s = plugin;
    Node *node = find(s, path);
    if (!node) return is_root(path) ? "cannot remove the root" : "file not found";
    if (node->is_dir && has_children(s, path)) return "directory not empty";
    drop(s, node);
    return NULL;
}

const char *FSRemoveAll(void *plugin, const char *path) {
    Store *s = plugin;
    Node *node = find(s, path);
    if (!node && !is_root(path)) return "file not found";
    for (size_t i = 0; i < s->count;) {
        if (below(s->nodes[i].path, path)) drop(s, &s->nodes[i]);
        else i++;
    }
    if (node) drop(s, find(s, path)); /* dropping moved entries: look it up again */
    return NULL;
}

const char *FSRead(void *plugin, const char *path, int64_t offset, int64_t size, int *out_len) {
    Store *s = plugin;
    Node *node = find(s, path);
    if (!node || node->is_dir) {
        *out_len = -1;
        return node || is_root(path) ? "is a directory" : "file not found";
    }
    size_t start = offset < 0 ? 0 : (size_t)offset;
    if (start >= node->len) {
        *out_len = 0;
        return "";
    }
    size_t n = node->len - start;
    if (size >= 0 && (size_t)size < n) n = (size_t)size;
    *out_len = (int)n;
    return node->data + start;
}

int64_t FSWrite(void *plugin, const char *path, const char *data, int data_len, int64_t offset,
                uint32_t flags) {
    Store *s = plugin;
    if (data_len < 0 || (data_len > 0 && !data)) return -EINVAL;
    Node *node = find(s, path);
    if (is_root(path) || (node && node->is_dir)) return -EISDIR;
    if (!node) {
        if (!(flags & PFS_WRITE_CREATE) || !parent_is_dir(s, path)) return -ENOENT;
        if (strlen(path) >= MAX_PATH) return -EINVAL;
        node = add(s, path, 0, 0644);
        if (!node) return -ENOSPC;
    } else if (flags & PFS_WRITE_EXCLUSIVE) {
        return -EEXIST;
    }
    if (flags & PFS_WRITE_TRUNCATE) node->len = 0;
    size_t at = flags & PFS_WRITE_APPEND ? node->len : offset < 0 ? 0 : (size_t)offset;
    if (at > MAX_FILE || (size_t)data_len > MAX_FILE - at) return -EFBIG;
    size_t end = at + (size_t)data_len;
    if (end > node->cap) {
        char *grown = realloc(node->data, end);
        if (!grown) return -ENOSPC;
        node->data = grown;
        node->cap = end;
    }
    if (at > node->len) memset(node->data + node->len, 0, at - node->len); /* a hole reads 0 */
    if (data_len > 0) memcpy(node->data + at, data, (size_t)data_len);
    if (end > node->len) node->len = end;
    node->mtime = (int64_t)time(NULL);
    return data_len;
}

static void fill(FileInfoC *info, const char *path, int is_dir, int64_t size, uint32_t mode,
                 int64_t mtime) {
    const char *slash = strrchr(path, '/');
    info->Name = slash[1] ? slash + 1 : "";
    info->Size = size;
    info->Mode = mode;
    info->ModTime = mtime;
    info->IsDir = is_dir;
    info->MetaName = "agfsmemfs";
    info->MetaType = is_dir ? "directory" : "file";
    info->MetaContent = "{}";
}

FileInfoC *FSStat(void *plugin, const char *path) {
    Store *s = plugin;
    if (is_root(path)) {
        fill(&s->info, path, 1, 0, 0755, (int64_t)time(NULL));
        return &s->info;
    }
    Node *node = find(s, path);
    if (!node) return NULL;
    fill(&s->info, node->path, node->is_dir, (int64_t)node->len, node->mode, node->mtime);
    return &s->info;
}

FileInfoArray *FSReadDir(void *plugin, const char *path, int *out_count) {
    Store *s = plugin;
    Node *dir = find(s, path);
    if (!is_root(path) && (!dir || !dir->is_dir)) {
        *out_count = -1;
        return NULL;
    }
    if (s->listing_cap < s->count + 1) {
        FileInfoC *grown = realloc(s->listing, (s->count + 1) * sizeof *grown);
        if (!grown) {
            *out_count = -1;
            return NULL;
        }
        s->listing = grown;
        s->listing_cap = s->count + 1;
    }
    int n = 0;
    for (size_t i = 0; i < s->count; i++) {
        Node *node = &s->nodes[i];
        if (below(node->path, path) && !strchr(node->path + strlen(path) + !is_root(path), '/'))
            fill(&s->listing[n++], node->path, node->is_dir, (int64_t)node->len, node->mode,
                 node->mtime);
    }
    s->array.Items = s->listing;
    s->array.Count = n;
    *out_count = n;
    return &s->array;
}

const char *FSRename(void *plugin, const char *old_path, const char *new_path) {
    Store *s = plugin;
    Node *node = find(s, old_path);
    if (!node) return "file not found";
    if (strcmp(old_path, new_path) == 0) return NULL;
    const char *error = creatable(s, new_path);
    if (error) return error;
    if (below(new_path, old_path)) return "invalid argument: cannot move a directory into itself";
    size_t old_len = strlen(old_path);
    for (size_t i = 0; i < s->count; i++) {
        Node *moved = &s->nodes[i];
        if (moved != node && !below(moved->path, old_path)) continue;
        const char *rest = moved->path + old_len;
        char *renamed = malloc(strlen(new_path) + strlen(rest) + 1);
        if (!renamed) return "out of memory";
        strcpy(renamed, new_path);
        strcat(renamed, rest);
        free(moved->path);
        moved->path = renamed;
    }
    return NULL;
}

const char *FSChmod(void *plugin, const char *path, uint32_t mode) {
    Store *s = plugin;
    Node *node = find(s, path);
    if (!node) return "file not found";
    node->mode = mode;
    return NULL;
}
