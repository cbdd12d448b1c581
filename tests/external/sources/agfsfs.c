/* agfsfs: a native plugin built for AGFS's ABI v2 (AGFS.md §6). Same symbol names as the PFS ABI,
 * but FSWrite takes an offset and flags and returns the number of bytes written (negative = error)
 * instead of a message pointer. Keeps one file's content in memory; "/last-call" reads back the
 * offset and flags of the last write. Deliberately does not include pfs_plugin.h. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static char content[4096];
static int content_len;
static char last_call[64];

void *PluginNew(void) { static int instance; return &instance; }
const char *PluginName(void *plugin) { (void)plugin; return "agfsfs"; }

int64_t FSWrite(void *plugin, const char *path, const char *data, int data_len, int64_t offset,
                uint32_t flags) {
    (void)plugin;
    snprintf(last_call, sizeof last_call, "offset=%lld flags=%u", (long long)offset, flags);
    if (strcmp(path, "/fail") == 0 || data_len > (int)sizeof content) return -1;
    /* A wrong count: more than it was given (must not be taken for a message pointer). */
    if (strcmp(path, "/overcount") == 0) return (int64_t)data_len + 1;
    if (data_len > 0) memcpy(content, data, (size_t)data_len);
    content_len = data_len;
    return data_len;
}

const char *FSRead(void *plugin, const char *path, int64_t offset, int64_t size, int *out_len) {
    (void)plugin; (void)offset; (void)size;
    if (strcmp(path, "/last-call") == 0) {
        *out_len = (int)strlen(last_call);
        return last_call;
    }
    *out_len = content_len;
    return content;
}
