/*
 * agfs_plugin.h — native plugins with AGFS's ABI v2 (AGFS.md §6): pfs_plugin.h's symbols and
 * structs, with FSWrite taking an offset and flags and returning the bytes written:
 *
 *   int64_t FSWrite(void *plugin, const char *path, const char *data, int data_len,
 *                   int64_t offset, uint32_t flags);
 *
 * Plugins built against AGFS's own headers load unchanged; this header is for writing new ones.
 */
#ifndef AGFS_PLUGIN_H
#define AGFS_PLUGIN_H

#define PFS_AGFS_ABI 1
#include "pfs_plugin.h"

#endif /* AGFS_PLUGIN_H */
