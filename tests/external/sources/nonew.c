/* nonew: a shared library without the required PluginNew. */
const char *PluginName(void *plugin) { (void)plugin; return "nonew"; }
