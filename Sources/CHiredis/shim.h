#ifndef CHIREDIS_SHIM_H
#define CHIREDIS_SHIM_H

// hiredis 0.14 (blocking API) for RWLock's connection layer. Only
// HiredisConnection.swift calls into this module. The helpers below exist
// because Swift imports `char errstr[128]` as a 128-element tuple and
// `struct timeval` through Glibc only; everything else hiredis declares is
// imported and used directly.

#include <hiredis.h>
#include <sys/time.h>

/// The context's error flag (REDIS_ERR_IO, REDIS_ERR_EOF, ...), 0 when healthy.
static inline int chiredis_err(const redisContext *ctx) { return ctx->err; }

/// The context's NUL-terminated error text; meaningful only when err != 0.
static inline const char *chiredis_errstr(const redisContext *ctx) { return ctx->errstr; }

/// A `struct timeval` for the connect and command timeouts.
static inline struct timeval chiredis_timeval(long seconds, long microseconds) {
    struct timeval tv;
    tv.tv_sec = seconds;
    tv.tv_usec = microseconds;
    return tv;
}

#endif
