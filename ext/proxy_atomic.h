/* Atomic counters for the proxy data path (ext/proxy.pyx): relaxed adds and loads on
 * int64 fields shared between worker threads and the Python thread that reads metrics. */
#ifndef KCORE_PROXY_ATOMIC_H
#define KCORE_PROXY_ATOMIC_H
#include <stdint.h>
#define kc_add(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)
#define kc_load(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define kc_store(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#endif
